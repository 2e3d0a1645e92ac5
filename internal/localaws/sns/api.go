package sns

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/localaws/wire"
	"github.com/rotorhq/rotor/internal/paginate"
)

// The query protocol's answers.

type createTopicResult struct {
	XMLName  xml.Name `xml:"CreateTopicResult"`
	TopicArn string
}

type subscribeResult struct {
	XMLName         xml.Name `xml:"SubscribeResult"`
	SubscriptionArn string
}

type publishResult struct {
	XMLName   xml.Name `xml:"PublishResult"`
	MessageId string
}

type topicMember struct {
	TopicArn string
}

type listTopicsResult struct {
	XMLName xml.Name `xml:"ListTopicsResult"`
	Topics  struct {
		Member []topicMember `xml:"member"`
	}
	NextToken string `xml:",omitempty"`
}

type subscriptionMember struct {
	SubscriptionArn, Owner, Protocol, Endpoint, TopicArn string
}

type listSubscriptionsResult struct {
	XMLName       xml.Name
	Subscriptions struct {
		Member []subscriptionMember `xml:"member"`
	}
	NextToken string `xml:",omitempty"`
}

// snsStatus is the HTTP status SNS answers an error code with.
var snsStatus = map[string]int{
	"AuthorizationError": http.StatusForbidden,
	"InternalError":      http.StatusInternalServerError,
	"InvalidAction":      http.StatusBadRequest,
	"InvalidParameter":   http.StatusBadRequest,
	"NotFound":           http.StatusNotFound,
	"ResourceNotFound":   http.StatusNotFound,
	"Throttled":          http.StatusTooManyRequests,
}

// writeSNSError answers err in the query protocol, with the status SNS
// gives its code unless the error names one.
func writeSNSError(w http.ResponseWriter, requestID string, err error) {
	var we *wire.Error
	explicit := errors.As(err, &we) && we.Status != 0
	e, _ := wire.AsError(err, "InternalError")
	if status, ok := snsStatus[e.Code]; ok && !explicit {
		e = &wire.Error{Code: e.Code, Message: e.Message, Status: status}
	}
	wire.WriteQueryError(w, snsXMLNS, requestID, e)
}

// serve answers one query-protocol request.
func (n *Service) Serve(w http.ResponseWriter, r *http.Request, op string, body []byte) {
	requestID := uuid.NewString()
	w.Header().Set("X-Amzn-RequestId", requestID)
	form, err := wire.ParseQuery(body)
	if err != nil {
		writeSNSError(w, requestID, &wire.Error{Code: "MalformedQueryString", Message: "the request body is not a valid form"})
		return
	}
	result, err := n.do(r.Context(), op, form)
	if err != nil {
		if _, ok := wire.AsError(err, ""); !ok {
			n.env.Log.Error("sns", "operation", op, "error", err)
		}
		writeSNSError(w, requestID, err)
		return
	}
	wire.WriteQueryResult(w, snsXMLNS, op, requestID, result)
}

func (n *Service) do(ctx context.Context, op string, form url.Values) (any, error) {
	switch op {
	case "CreateTopic":
		arn, err := n.createTopic(form.Get("Name"), wire.FormMap(form, "Attributes", "key", "value"))
		if err != nil {
			return nil, err
		}
		return createTopicResult{TopicArn: arn}, nil
	case "DeleteTopic":
		return nil, n.deleteTopic(form.Get("TopicArn"))
	case "GetTopicAttributes":
		return n.getTopicAttributes(form.Get("TopicArn"))
	case "SetTopicAttributes":
		return nil, n.setTopicAttributes(form)
	case "ListTopics":
		n.mu.Lock()
		arns := make([]string, 0, len(n.topics))
		for arn := range n.topics {
			arns = append(arns, arn)
		}
		n.mu.Unlock()
		page, next := page(arns, form.Get("NextToken"))
		var res listTopicsResult
		for _, arn := range page {
			res.Topics.Member = append(res.Topics.Member, topicMember{TopicArn: arn})
		}
		res.NextToken = next
		return res, nil
	case "Subscribe":
		arn, err := n.subscribe(form.Get("TopicArn"), form.Get("Protocol"), form.Get("Endpoint"), wire.FormMap(form, "Attributes", "key", "value"))
		if err != nil {
			return nil, err
		}
		return subscribeResult{SubscriptionArn: arn}, nil
	case "Unsubscribe":
		return nil, n.unsubscribe(form.Get("SubscriptionArn"))
	case "ListSubscriptions", "ListSubscriptionsByTopic":
		topic := form.Get("TopicArn")
		n.mu.Lock()
		if op == "ListSubscriptionsByTopic" {
			if _, ok := n.topics[topic]; !ok {
				n.mu.Unlock()
				return nil, snsNotFound("Topic does not exist")
			}
		}
		subs := map[string]subscriptionMember{}
		var arns []string
		for _, sub := range n.subs {
			if topic == "" || sub.TopicARN == topic {
				arns = append(arns, sub.ARN)
				subs[sub.ARN] = subscriptionMember{SubscriptionArn: sub.ARN, Owner: n.env.Account,
					Protocol: sub.Protocol, Endpoint: sub.Endpoint, TopicArn: sub.TopicARN}
			}
		}
		n.mu.Unlock()
		page, next := page(arns, form.Get("NextToken"))
		res := listSubscriptionsResult{XMLName: xml.Name{Local: op + "Result"}, NextToken: next}
		for _, arn := range page {
			res.Subscriptions.Member = append(res.Subscriptions.Member, subs[arn])
		}
		return res, nil
	case "Publish":
		if form.Get("PhoneNumber") != "" {
			return nil, invalidParameter("PhoneNumber: the rotor local endpoint publishes to topics only")
		}
		in := publishInput{TopicARN: form.Get("TopicArn"), Subject: form.Get("Subject"), Message: form.Get("Message"),
			JSONStructure: form.Get("MessageStructure") == "json"}
		if in.TopicARN == "" {
			in.TopicARN = form.Get("TargetArn")
		}
		for i := 1; ; i++ {
			p := "MessageAttributes.entry." + strconv.Itoa(i) + "."
			name := form.Get(p + "Name")
			if name == "" {
				break
			}
			a := MessageAttribute{Type: form.Get(p + "Value.DataType"), Value: form.Get(p + "Value.StringValue")}
			if bv := form.Get(p + "Value.BinaryValue"); bv != "" {
				a.Value = bv
			}
			if in.Attributes == nil {
				in.Attributes = map[string]MessageAttribute{}
			}
			in.Attributes[name] = a
		}
		id, err := n.publish(ctx, in)
		if err != nil {
			return nil, err
		}
		return publishResult{MessageId: id}, nil
	}
	return nil, &wire.Error{Code: "InvalidAction", Message: fmt.Sprintf("The action %s is not valid for this web service (rotor local endpoint).", op)}
}

// page sorts keys and returns the page after token (paginate.Page: a token
// whose item is gone continues where it stood) and the next token.
func page(keys []string, token string) ([]string, string) {
	slices.Sort(keys)
	p, next, _ := paginate.Page(keys, func(k string) string { return k }, token, snsPageSize, true)
	return p, next
}

// writeError answers a fault or a throttling refusal in SNS's own protocol.
func (n *Service) WriteError(w http.ResponseWriter, code, message string, status int) {
	writeSNSError(w, "", &wire.Error{Code: code, Message: message, Status: status})
}
