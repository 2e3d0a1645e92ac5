package localaws

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// SNS answers the SNS query protocol (form-encoded Action=...&Version=
// 2010-03-31, XML answers): CreateTopic, DeleteTopic, ListTopics, Subscribe,
// Unsubscribe, ListSubscriptions, ListSubscriptionsByTopic and Publish.
//
// Every published message is recorded (Messages, and GET
// /_rotor/sns/messages as a JSON array, optionally filtered with
// ?topicArn=ARN) and delivered to the topic's subscriptions:
//
//   - http and https: the standard notification JSON
//     ({"Type":"Notification","MessageId","TopicArn","Subject","Message",
//     "Timestamp",...}) is POSTed to Endpoint in the background, once, with
//     a 5 s timeout; failures are logged. Notifications are not signed (no
//     Signature or SigningCertURL), subscriptions need no confirmation, and
//     the RawMessageDelivery attribute ("true") posts the message alone.
//   - file (a rotor extension): Endpoint is an absolute file path; the
//     notification JSON is appended to it as one line before Publish
//     returns.
//
// Other protocols (sqs, lambda, email, ...) are refused with
// InvalidParameter. Topics, subscriptions and messages persist in bbolt
// bucket "sns" when the server has a data file.
type SNS struct {
	s      *Server
	client *http.Client // for http/https deliveries

	mu     sync.Mutex
	topics map[string]*snsTopic        // by ARN
	subs   map[string]*snsSubscription // by ARN
	msgs   []Message
	closed bool

	fileMu     sync.Mutex // serializes file deliveries
	deliveries sync.WaitGroup
}

// Message is a message published to a topic.
type Message struct {
	ID, TopicARN, Subject, Message string
	Time                           time.Time
	// Attributes are the message attributes, if any.
	Attributes map[string]MessageAttribute `json:",omitempty"`
}

// MessageAttribute is one message attribute as notifications carry it:
// Type is the DataType (String, Number, Binary, String.Array), Value the
// string value (base64 for Binary).
type MessageAttribute struct {
	Type, Value string
}

type snsTopic struct {
	ARN, Name  string
	Attributes map[string]string `json:",omitempty"`
	Created    time.Time
}

type snsSubscription struct {
	ARN, TopicARN, Protocol, Endpoint string
	Raw                               bool `json:",omitempty"` // RawMessageDelivery
}

const (
	snsXMLNS        = "http://sns.amazonaws.com/doc/2010-03-31/"
	snsMaxMessage   = 256 << 10
	snsPageSize     = 100
	snsDeliveryWait = 5 * time.Second
)

var snsBucket = []byte("sns")

// Keys in bucket "sns": "topic:ARN" and "sub:ARN" hold JSON, "msg:" + a
// big-endian sequence number the messages in publishing order.
const (
	snsTopicKey = "topic:"
	snsSubKey   = "sub:"
	snsMsgKey   = "msg:"
)

func newSNS(s *Server) (*SNS, error) {
	n := &SNS{
		s:      s,
		client: &http.Client{Timeout: snsDeliveryWait},
		topics: map[string]*snsTopic{},
		subs:   map[string]*snsSubscription{},
	}
	if s.db == nil {
		return n, nil
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(snsBucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var err error
			switch key := string(k); {
			case strings.HasPrefix(key, snsTopicKey):
				var t snsTopic
				if err = json.Unmarshal(v, &t); err == nil {
					n.topics[t.ARN] = &t
				}
			case strings.HasPrefix(key, snsSubKey):
				var sub snsSubscription
				if err = json.Unmarshal(v, &sub); err == nil {
					n.subs[sub.ARN] = &sub
				}
			case strings.HasPrefix(key, snsMsgKey):
				var m Message
				if err = json.Unmarshal(v, &m); err == nil {
					n.msgs = append(n.msgs, m)
				}
			}
			if err != nil {
				return fmt.Errorf("sns: record %q: %w", k, err)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("loading SNS state: %w", err)
	}
	return n, nil
}

// update runs fn in a write transaction on bucket "sns" when state
// persists. Call with n.mu held, before changing memory.
func (n *SNS) update(fn func(b *bbolt.Bucket) error) error {
	if n.s.db == nil {
		return nil
	}
	return n.s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(snsBucket)
		if err != nil {
			return err
		}
		return fn(b)
	})
}

// Messages returns the messages published so far, oldest first.
func (n *SNS) Messages() []Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.msgs)
}

func invalidParameter(format string, args ...any) error {
	return &snstypes.InvalidParameterException{Message: aws.String("Invalid parameter: " + fmt.Sprintf(format, args...))}
}

func snsNotFound(msg string) error {
	return &snstypes.NotFoundException{Message: aws.String(msg)}
}

var topicNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}(\.fifo)?$`)

func (n *SNS) createTopic(name string, attrs map[string]string) (string, error) {
	if !topicNameRE.MatchString(name) || len(name) > 256 {
		return "", invalidParameter("Topic Name")
	}
	arn := fmt.Sprintf("arn:aws:sns:%s:%s:%s", n.s.opts.Region, n.s.opts.Account, name)
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.topics[arn]; ok {
		return arn, nil
	}
	t := &snsTopic{ARN: arn, Name: name, Attributes: attrs, Created: n.s.opts.Now()}
	if err := n.update(func(b *bbolt.Bucket) error { return wire.PutJSON(b, snsTopicKey+arn, t) }); err != nil {
		return "", err
	}
	n.topics[arn] = t
	return arn, nil
}

// deleteTopic deletes a topic and its subscriptions; deleting a topic that
// does not exist is not an error (as in SNS).
func (n *SNS) deleteTopic(arn string) error {
	if arn == "" {
		return invalidParameter("TopicArn")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.topics[arn]; !ok {
		return nil
	}
	var subs []string
	for _, sub := range n.subs {
		if sub.TopicARN == arn {
			subs = append(subs, sub.ARN)
		}
	}
	err := n.update(func(b *bbolt.Bucket) error {
		for _, s := range subs {
			if err := b.Delete([]byte(snsSubKey + s)); err != nil {
				return err
			}
		}
		return b.Delete([]byte(snsTopicKey + arn))
	})
	if err != nil {
		return err
	}
	for _, s := range subs {
		delete(n.subs, s)
	}
	delete(n.topics, arn)
	return nil
}

func (n *SNS) subscribe(topicARN, protocol, endpoint string, attrs map[string]string) (string, error) {
	switch {
	case topicARN == "":
		return "", invalidParameter("TopicArn")
	case protocol == "":
		return "", invalidParameter("Protocol")
	}
	switch protocol {
	case "http", "https":
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme != protocol || u.Host == "" {
			return "", invalidParameter("Endpoint: %q is not an %s URL", endpoint, protocol)
		}
	case "file":
		if !filepath.IsAbs(endpoint) {
			return "", invalidParameter("Endpoint: a file subscription's endpoint must be an absolute file path, not %q", endpoint)
		}
	default:
		return "", invalidParameter("Protocol: the rotor local endpoint delivers only to http, https and file subscriptions, not %q", protocol)
	}
	raw := false
	for k, v := range attrs {
		switch k {
		case "RawMessageDelivery":
			raw = strings.EqualFold(v, "true")
		default:
			// FilterPolicy, DeliveryPolicy, ...: accepted, not applied.
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.topics[topicARN]; !ok {
		return "", snsNotFound("Topic does not exist")
	}
	for _, sub := range n.subs {
		if sub.TopicARN == topicARN && sub.Protocol == protocol && sub.Endpoint == endpoint {
			return sub.ARN, nil
		}
	}
	sub := &snsSubscription{ARN: topicARN + ":" + uuid.NewString(), TopicARN: topicARN, Protocol: protocol, Endpoint: endpoint, Raw: raw}
	if err := n.update(func(b *bbolt.Bucket) error { return wire.PutJSON(b, snsSubKey+sub.ARN, sub) }); err != nil {
		return "", err
	}
	n.subs[sub.ARN] = sub
	return sub.ARN, nil
}

func (n *SNS) unsubscribe(arn string) error {
	if arn == "" {
		return invalidParameter("SubscriptionArn")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.subs[arn]; !ok {
		return snsNotFound("Subscription does not exist")
	}
	if err := n.update(func(b *bbolt.Bucket) error { return b.Delete([]byte(snsSubKey + arn)) }); err != nil {
		return err
	}
	delete(n.subs, arn)
	return nil
}

// Publish publishes message (with subject, which may be empty) to a topic,
// as Step Functions' sns:publish integration does, and returns the message
// ID. An unknown topic is *types.NotFoundException, a missing or invalid
// parameter *types.InvalidParameterException (the SNS SDK's types).
func (n *SNS) Publish(ctx context.Context, topicARN, subject, message string) (string, error) {
	return n.publish(ctx, publishInput{TopicARN: topicARN, Subject: subject, Message: message})
}

type publishInput struct {
	TopicARN, Subject, Message string
	JSONStructure              bool // MessageStructure=json
	Attributes                 map[string]MessageAttribute
}

func (n *SNS) publish(ctx context.Context, in publishInput) (string, error) {
	switch {
	case in.TopicARN == "":
		return "", invalidParameter("TopicArn or TargetArn Reason: no value for required parameter")
	case in.Message == "":
		return "", invalidParameter("Empty message")
	case len(in.Message) > snsMaxMessage:
		return "", invalidParameter("Message too long")
	case len(in.Subject) > 100:
		return "", invalidParameter("Subject: longer than 100 characters")
	case strings.ContainsFunc(in.Subject, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", invalidParameter("Subject: contains line breaks or control characters")
	}
	var structured map[string]string
	if in.JSONStructure {
		if err := json.Unmarshal([]byte(in.Message), &structured); err != nil {
			return "", invalidParameter("Message Structure - JSON message body failed to parse")
		}
		if _, ok := structured["default"]; !ok {
			return "", invalidParameter("Message Structure - No default entry in JSON message body")
		}
	}
	for name, a := range in.Attributes {
		if a.Type == "" {
			return "", invalidParameter("The message attribute '%s' must contain non-empty message attribute type.", name)
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}

	n.mu.Lock()
	if _, ok := n.topics[in.TopicARN]; !ok {
		n.mu.Unlock()
		return "", snsNotFound("Topic does not exist")
	}
	m := Message{ID: uuid.NewString(), TopicARN: in.TopicARN, Subject: in.Subject, Message: in.Message,
		Time: n.s.opts.Now().UTC(), Attributes: in.Attributes}
	err := n.update(func(b *bbolt.Bucket) error {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return wire.PutJSON(b, snsMsgKey+string(binary.BigEndian.AppendUint64(nil, seq)), m)
	})
	if err != nil {
		n.mu.Unlock()
		return "", err
	}
	n.msgs = append(n.msgs, m)
	var subs []snsSubscription
	for _, sub := range n.subs {
		if sub.TopicARN == in.TopicARN {
			subs = append(subs, *sub)
		}
	}
	closed := n.closed
	if !closed {
		n.deliveries.Add(len(subs))
	}
	n.mu.Unlock()

	for _, sub := range subs {
		text := m.Message
		if structured != nil {
			text = structured["default"]
			if t, ok := structured[sub.Protocol]; ok {
				text = t
			}
		}
		note := snsNotification{Type: "Notification", MessageID: m.ID, TopicARN: m.TopicARN, Subject: m.Subject,
			Message: text, Timestamp: m.Time.Format("2006-01-02T15:04:05.000Z"), MessageAttributes: m.Attributes}
		if sub.Protocol == "file" {
			n.deliverFile(sub, note)
			if !closed {
				n.deliveries.Done()
			}
			continue
		}
		if closed {
			continue
		}
		go func() {
			defer n.deliveries.Done()
			n.deliverHTTP(sub, note)
		}()
	}
	return m.ID, nil
}

// snsNotification is what subscribers receive.
type snsNotification struct {
	Type              string
	MessageID         string `json:"MessageId"`
	TopicARN          string `json:"TopicArn"`
	Subject           string `json:",omitempty"`
	Message           string
	Timestamp         string
	MessageAttributes map[string]MessageAttribute `json:",omitempty"`
}

func (n *SNS) deliverFile(sub snsSubscription, note snsNotification) {
	line, err := json.Marshal(note)
	if err != nil {
		n.s.opts.Log.Error("sns file delivery", "subscription", sub.ARN, "error", err)
		return
	}
	line = append(line, '\n')
	n.fileMu.Lock()
	defer n.fileMu.Unlock()
	f, err := os.OpenFile(sub.Endpoint, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		_, err = f.Write(line)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		n.s.opts.Log.Warn("sns file delivery failed", "subscription", sub.ARN, "file", sub.Endpoint, "error", err)
	}
}

func (n *SNS) deliverHTTP(sub snsSubscription, note snsNotification) {
	body := []byte(note.Message)
	if !sub.Raw {
		var err error
		if body, err = json.Marshal(note); err != nil {
			n.s.opts.Log.Error("sns http delivery", "subscription", sub.ARN, "error", err)
			return
		}
	}
	req, err := http.NewRequest(http.MethodPost, sub.Endpoint, bytes.NewReader(body))
	if err != nil {
		n.s.opts.Log.Warn("sns http delivery failed", "subscription", sub.ARN, "error", err)
		return
	}
	req.Header.Set("Content-Type", "text/plain; charset=UTF-8")
	req.Header.Set("User-Agent", "Amazon Simple Notification Service Agent")
	req.Header.Set("X-Amz-Sns-Message-Type", "Notification")
	req.Header.Set("X-Amz-Sns-Message-Id", note.MessageID)
	req.Header.Set("X-Amz-Sns-Topic-Arn", note.TopicARN)
	req.Header.Set("X-Amz-Sns-Subscription-Arn", sub.ARN)
	if sub.Raw {
		req.Header.Set("X-Amz-Sns-Rawdelivery", "true")
	}
	resp, err := n.client.Do(req)
	if err != nil {
		n.s.opts.Log.Warn("sns http delivery failed", "subscription", sub.ARN, "endpoint", sub.Endpoint, "error", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		n.s.opts.Log.Warn("sns http delivery refused", "subscription", sub.ARN, "endpoint", sub.Endpoint, "status", resp.StatusCode)
	}
}

// Close waits for http deliveries in flight (each bounded by its 5 s
// timeout); later publications are recorded and written to files only.
func (n *SNS) Close() error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.deliveries.Wait()
	n.client.CloseIdleConnections()
	return nil
}

// admin answers GET /_rotor/sns/messages.
func (n *SNS) Admin(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path != "/_rotor/sns/messages" {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return true
	}
	msgs := n.Messages()
	if topic := r.URL.Query().Get("topicArn"); topic != "" {
		msgs = slices.DeleteFunc(msgs, func(m Message) bool { return m.TopicARN != topic })
	}
	if msgs == nil {
		msgs = []Message{}
	}
	wire.WriteEncoded(w, "application/json", msgs, json.Marshal)
	return true
}

// The query protocol's answers.

type snsEnvelope struct {
	XMLName   xml.Name
	XMLNS     string `xml:"xmlns,attr"`
	Result    any
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

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

type snsErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	XMLNS   string   `xml:"xmlns,attr"`
	Error   struct {
		Type, Code, Message string
	}
	RequestID string `xml:"RequestId"`
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

func writeSNSError(w http.ResponseWriter, requestID string, err error) {
	code, msg, fault, status := "InternalError", err.Error(), smithy.FaultServer, 0
	var se smithy.APIError
	var ae *wire.Error
	switch {
	case errors.As(err, &se):
		code, msg, fault = se.ErrorCode(), se.ErrorMessage(), se.ErrorFault()
	case errors.As(err, &ae):
		code, msg, fault, status = ae.Code, ae.Message, smithy.FaultClient, ae.Status
	}
	if status == 0 {
		status = snsStatus[code]
	}
	if status == 0 {
		status = http.StatusBadRequest
		if fault == smithy.FaultServer {
			status = http.StatusInternalServerError
		}
	}
	resp := snsErrorResponse{XMLNS: snsXMLNS, RequestID: requestID}
	resp.Error.Type, resp.Error.Code, resp.Error.Message = "Sender", code, msg
	if status >= 500 {
		resp.Error.Type = "Receiver"
	}
	wire.WriteXML(w, status, resp)
}

// serve answers one query-protocol request.
func (n *SNS) Serve(w http.ResponseWriter, r *http.Request, op string, body []byte) {
	requestID := uuid.NewString()
	w.Header().Set("X-Amzn-RequestId", requestID)
	form, err := wire.ParseQuery(body)
	if err != nil {
		writeSNSError(w, requestID, &wire.Error{Code: "MalformedQueryString", Message: "the request body is not a valid form"})
		return
	}
	result, err := n.do(r.Context(), op, form)
	if err != nil {
		var se smithy.APIError
		var ae *wire.Error
		if !errors.As(err, &se) && !errors.As(err, &ae) {
			n.s.opts.Log.Error("sns", "operation", op, "error", err)
		}
		writeSNSError(w, requestID, err)
		return
	}
	wire.WriteXML(w, http.StatusOK, snsEnvelope{XMLName: xml.Name{Local: op + "Response"}, XMLNS: snsXMLNS, Result: result, RequestID: requestID})
}

func (n *SNS) do(ctx context.Context, op string, form url.Values) (any, error) {
	switch op {
	case "CreateTopic":
		arn, err := n.createTopic(form.Get("Name"), wire.FormMap(form, "Attributes", "key", "value"))
		if err != nil {
			return nil, err
		}
		return createTopicResult{TopicArn: arn}, nil
	case "DeleteTopic":
		return nil, n.deleteTopic(form.Get("TopicArn"))
	case "ListTopics":
		n.mu.Lock()
		arns := make([]string, 0, len(n.topics))
		for arn := range n.topics {
			arns = append(arns, arn)
		}
		n.mu.Unlock()
		page, next := paginate(arns, form.Get("NextToken"))
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
				subs[sub.ARN] = subscriptionMember{SubscriptionArn: sub.ARN, Owner: n.s.opts.Account,
					Protocol: sub.Protocol, Endpoint: sub.Endpoint, TopicArn: sub.TopicARN}
			}
		}
		n.mu.Unlock()
		page, next := paginate(arns, form.Get("NextToken"))
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

// paginate sorts keys and returns the page after token (the last key of
// the previous page) and the next token, "" on the last page.
func paginate(keys []string, token string) ([]string, string) {
	slices.Sort(keys)
	if token != "" {
		i, _ := slices.BinarySearch(keys, token)
		if i < len(keys) && keys[i] == token {
			i++
		}
		keys = keys[i:]
	}
	if len(keys) > snsPageSize {
		return keys[:snsPageSize], keys[snsPageSize-1]
	}
	return keys, ""
}

// writeError answers a fault or a throttling refusal in SNS's own protocol.
func (s *SNS) WriteError(w http.ResponseWriter, code, message string, status int) {
	writeSNSError(w, "", &wire.Error{Code: code, Message: message, Status: status})
}
