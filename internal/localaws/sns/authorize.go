package sns

import (
	"encoding/xml"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/iampolicy"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// kmsKeyAttribute is the topic attribute naming its encryption key.
const kmsKeyAttribute = "KmsMasterKeyId"

// KMSKey returns the ARN of the KMS key a topic is encrypted with (its
// KmsMasterKeyId attribute: a key ARN as given, a key id or an alias as
// the ARN it has in this endpoint's region and account), "" when the topic
// is not encrypted or does not exist. No key is used: messages are kept
// as they are; the key only decides who may publish.
func (n *Service) KMSKey(topicARN string) string {
	n.mu.Lock()
	t, ok := n.topics[topicARN]
	var id string
	if ok {
		id = t.Attributes[kmsKeyAttribute]
	}
	n.mu.Unlock()
	switch {
	case id == "", strings.HasPrefix(id, "arn:"):
		return id
	case strings.HasPrefix(id, "alias/"):
		return "arn:aws:kms:" + n.env.Region + ":" + n.env.Account + ":" + id
	}
	return "arn:aws:kms:" + n.env.Region + ":" + n.env.Account + ":key/" + id
}

// PublishAccess is what publishing to a topic needs: sns:Publish on the
// topic and, for a topic encrypted with a KMS key, kms:GenerateDataKey and
// kms:Decrypt on the key, with kms:ViaService sns.REGION.amazonaws.com and
// kms:CallerAccount, refused as SNS refuses them (KMSAccessDenied, 400).
// Step Functions' sns:publish tasks need the same.
func (n *Service) PublishAccess(topicARN string) []wire.Access {
	out := []wire.Access{{Request: iampolicy.Request{Action: "sns:Publish", Resource: topicARN}}}
	if key := n.KMSKey(topicARN); key != "" {
		ctx := map[string][]string{"kms:ViaService": {"sns." + n.env.Region + ".amazonaws.com"}, "kms:CallerAccount": {n.env.Account}}
		for _, a := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
			out = append(out, wire.Access{Request: iampolicy.Request{Action: a, Resource: key, Context: ctx},
				DeniedCode: "KMSAccessDenied", DeniedStatus: http.StatusBadRequest})
		}
	}
	return out
}

// Authorize tells which permissions an SNS request needs, for the
// server's Options.EnforceIAM: sns:OP on the topic (Unsubscribe: the
// subscription's topic; ListTopics and ListSubscriptions: "*"), and
// Publish what PublishAccess says.
func (n *Service) Authorize(_ *http.Request, op string, body []byte) ([]wire.Access, error) {
	form, err := wire.ParseQuery(body)
	if err != nil {
		return nil, &wire.Error{Code: "MalformedQueryString", Message: "the request body is not a valid form"}
	}
	one := func(resource string) []wire.Access {
		return []wire.Access{{Request: iampolicy.Request{Action: "sns:" + op, Resource: resource}}}
	}
	switch op {
	case "ListTopics", "ListSubscriptions":
		return one("*"), nil
	case "CreateTopic":
		return one(n.topicARN(form.Get("Name"))), nil
	case "DeleteTopic", "Subscribe", "ListSubscriptionsByTopic", "GetTopicAttributes", "SetTopicAttributes":
		return one(form.Get("TopicArn")), nil
	case "Unsubscribe":
		sub := form.Get("SubscriptionArn")
		return one(sub[:max(strings.LastIndex(sub, ":"), 0)]), nil
	case "Publish":
		topic := form.Get("TopicArn")
		if topic == "" {
			topic = form.Get("TargetArn")
		}
		return n.PublishAccess(topic), nil
	}
	return nil, wire.ErrNotModelled
}

func (n *Service) topicARN(name string) string {
	return "arn:aws:sns:" + n.env.Region + ":" + n.env.Account + ":" + name
}

type getTopicAttributesResult struct {
	XMLName    xml.Name `xml:"GetTopicAttributesResult"`
	Attributes struct {
		Entry []attributeEntry `xml:"entry"`
	}
}

type attributeEntry struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

// getTopicAttributes answers the topic's own attributes (as CreateTopic
// and SetTopicAttributes set them) with TopicArn, Owner and the counts of
// its subscriptions.
func (n *Service) getTopicAttributes(arn string) (any, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.topics[arn]
	if !ok {
		return nil, snsNotFound("Topic does not exist")
	}
	attrs := maps.Clone(t.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	subs := 0
	for _, s := range n.subs {
		if s.TopicARN == arn {
			subs++
		}
	}
	attrs["TopicArn"], attrs["Owner"] = arn, n.env.Account
	attrs["SubscriptionsConfirmed"], attrs["SubscriptionsPending"], attrs["SubscriptionsDeleted"] = strconv.Itoa(subs), "0", "0"
	var res getTopicAttributesResult
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		res.Attributes.Entry = append(res.Attributes.Entry, attributeEntry{Key: k, Value: attrs[k]})
	}
	return res, nil
}

// settableTopicAttributes are the attributes SetTopicAttributes takes (the
// others SNS knows are about delivery this endpoint does not do).
var settableTopicAttributes = map[string]bool{"DisplayName": true, "Policy": true, "DeliveryPolicy": true, kmsKeyAttribute: true,
	"SignatureVersion": true, "TracingConfig": true}

func (n *Service) setTopicAttributes(form url.Values) error {
	arn, name, value := form.Get("TopicArn"), form.Get("AttributeName"), form.Get("AttributeValue")
	if !settableTopicAttributes[name] {
		return invalidParameter("AttributeName: %q is not one rotor's local endpoint sets", name)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.topics[arn]
	if !ok {
		return snsNotFound("Topic does not exist")
	}
	c := *t
	c.Attributes = maps.Clone(t.Attributes)
	if c.Attributes == nil {
		c.Attributes = map[string]string{}
	}
	if value == "" {
		delete(c.Attributes, name)
	} else {
		c.Attributes[name] = value
	}
	if err := n.update(func(b *bbolt.Bucket) error { return wire.PutJSON(b, snsTopicKey+arn, &c) }); err != nil {
		return err
	}
	n.topics[arn] = &c
	return nil
}
