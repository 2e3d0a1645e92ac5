package sns

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Service is the local SNS (see the package comment).
type Service struct {
	env    wire.Env
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

// New builds the service, loading its topics, subscriptions and messages
// from env.DB.
func New(env wire.Env) (*Service, error) {
	n := &Service{
		env:    env,
		client: &http.Client{Timeout: snsDeliveryWait},
		topics: map[string]*snsTopic{},
		subs:   map[string]*snsSubscription{},
	}
	err := env.DB.View(func(b *bbolt.Bucket) error {
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
	}, snsBucket)
	if err != nil {
		return nil, fmt.Errorf("loading SNS state: %w", err)
	}
	return n, nil
}

// update runs fn in a write transaction on bucket "sns" (nothing in
// memory mode). Call with n.mu held, before changing memory.
func (n *Service) update(fn func(b *bbolt.Bucket) error) error {
	return n.env.DB.Update(fn, snsBucket)
}

// Messages returns the messages published so far, oldest first.
func (n *Service) Messages() []Message {
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

func (n *Service) createTopic(name string, attrs map[string]string) (string, error) {
	if !topicNameRE.MatchString(name) || len(name) > 256 {
		return "", invalidParameter("Topic Name")
	}
	arn := fmt.Sprintf("arn:aws:sns:%s:%s:%s", n.env.Region, n.env.Account, name)
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.topics[arn]; ok {
		return arn, nil
	}
	t := &snsTopic{ARN: arn, Name: name, Attributes: attrs, Created: n.env.Now()}
	if err := n.update(func(b *bbolt.Bucket) error { return wire.PutJSON(b, snsTopicKey+arn, t) }); err != nil {
		return "", err
	}
	n.topics[arn] = t
	return arn, nil
}

// deleteTopic deletes a topic and its subscriptions; deleting a topic that
// does not exist is not an error (as in SNS).
func (n *Service) deleteTopic(arn string) error {
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

func (n *Service) subscribe(topicARN, protocol, endpoint string, attrs map[string]string) (string, error) {
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

func (n *Service) unsubscribe(arn string) error {
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
func (n *Service) Publish(ctx context.Context, topicARN, subject, message string) (string, error) {
	return n.publish(ctx, publishInput{TopicARN: topicARN, Subject: subject, Message: message})
}

type publishInput struct {
	TopicARN, Subject, Message string
	JSONStructure              bool // MessageStructure=json
	Attributes                 map[string]MessageAttribute
}

func (n *Service) publish(ctx context.Context, in publishInput) (string, error) {
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
		Time: n.env.Now().UTC(), Attributes: in.Attributes}
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

// Close waits for http deliveries in flight (each bounded by its 5 s
// timeout); later publications are recorded and written to files only.
func (n *Service) Close() error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.deliveries.Wait()
	n.client.CloseIdleConnections()
	return nil
}

// admin answers GET /_rotor/sns/messages.
func (n *Service) Admin(w http.ResponseWriter, r *http.Request) bool {
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
