package localaws

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/google/go-cmp/cmp"

	localsns "github.com/rotorhq/rotor/internal/localaws/sns"
)

// snsTestServer starts a server (Options.DataFile as given) and returns it
// with an SDK client pointed at it; both close with the test.
func snsTestServer(t *testing.T, opts Options) (*Server, *sns.Client) {
	t.Helper()
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	endpoint, err := srv.Start("127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, snsClient(sdkTestHTTPClient(t), endpoint)
}

// sdkTestHTTPClient is an HTTP client for SDK clients whose connections
// close before the server does (cleanups run last first): a connection the
// client opened but never used would hold http.Server.Shutdown for 5 s.
func sdkTestHTTPClient(t *testing.T) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func snsClient(hc *http.Client, endpoint string) *sns.Client {
	return sns.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", ""),
		HTTPClient:  hc,
	}, func(o *sns.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.RetryMaxAttempts = 1
	})
}

func TestSNSCreateTopicIdempotent(t *testing.T) {
	ctx := t.Context()
	_, c := snsTestServer(t, Options{})
	want := "arn:aws:sns:us-east-1:000000000000:rotor-events"
	for range 2 {
		out, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("rotor-events")})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.TopicArn); got != want {
			t.Fatalf("TopicArn = %q, want %q", got, want)
		}
	}
	list, err := c.ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Topics) != 1 || aws.ToString(list.Topics[0].TopicArn) != want {
		t.Fatalf("ListTopics = %+v, want one topic %s", list.Topics, want)
	}

	_, err = c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("bad name!")})
	var ip *snstypes.InvalidParameterException
	if !errors.As(err, &ip) {
		t.Fatalf("CreateTopic(bad name) error = %v, want InvalidParameterException", err)
	}

	if _, err := c.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(want)}); err != nil {
		t.Fatal(err)
	}
	// Deleting a topic that does not exist is not an error.
	if _, err := c.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(want)}); err != nil {
		t.Fatal(err)
	}
	list, err = c.ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Topics) != 0 {
		t.Fatalf("after DeleteTopic, ListTopics = %+v", list.Topics)
	}
}

func TestSNSListTopicsPaginates(t *testing.T) {
	ctx := t.Context()
	_, c := snsTestServer(t, Options{})
	want := map[string]bool{}
	for i := range 150 {
		out, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(fmt.Sprintf("t%03d", i))})
		if err != nil {
			t.Fatal(err)
		}
		want[*out.TopicArn] = true
	}
	got := map[string]bool{}
	pages := 0
	for p := sns.NewListTopicsPaginator(c, &sns.ListTopicsInput{}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, tp := range out.Topics {
			if got[*tp.TopicArn] {
				t.Fatalf("%s listed twice", *tp.TopicArn)
			}
			got[*tp.TopicArn] = true
		}
	}
	if pages != 2 || len(got) != 150 {
		t.Fatalf("%d pages, %d topics; want 2 pages, 150 topics", pages, len(got))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
}

func TestSNSPublishRecorded(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	srv, c := snsTestServer(t, Options{Now: func() time.Time { return now }})
	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("rotations")})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Publish(ctx, &sns.PublishInput{
		TopicArn: topic.TopicArn,
		Subject:  aws.String("Rotated"),
		Message:  aws.String(`{"secret":"db","version":"v2"} & <more>`),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			"kind": {DataType: aws.String("String"), StringValue: aws.String("rotation")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.MessageId) == "" {
		t.Fatal("no MessageId")
	}
	direct, err := srv.SNS.Publish(ctx, *topic.TopicArn, "", "second")
	if err != nil {
		t.Fatal(err)
	}
	want := []localsns.Message{
		{ID: *out.MessageId, TopicARN: *topic.TopicArn, Subject: "Rotated", Message: `{"secret":"db","version":"v2"} & <more>`, Time: now,
			Attributes: map[string]localsns.MessageAttribute{"kind": {Type: "String", Value: "rotation"}}},
		{ID: direct, TopicARN: *topic.TopicArn, Message: "second", Time: now},
	}
	if diff := cmp.Diff(want, srv.SNS.Messages()); diff != "" {
		t.Fatalf("Messages() (-want +got):\n%s", diff)
	}

	// The admin endpoint serves the same, optionally filtered by topic.
	for query, n := range map[string]int{"": 2, "?topicArn=" + url.QueryEscape(*topic.TopicArn): 2, "?topicArn=other": 0} {
		resp, err := http.Get(srv.URL() + "/_rotor/sns/messages" + query)
		if err != nil {
			t.Fatal(err)
		}
		var got []localsns.Message
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || got == nil {
			t.Fatalf("GET /_rotor/sns/messages%s: status %d, %v, %v", query, resp.StatusCode, got, err)
		}
		if diff := cmp.Diff(want[:n], got); diff != "" {
			t.Fatalf("GET /_rotor/sns/messages%s (-want +got):\n%s", query, diff)
		}
	}
}

func TestSNSErrors(t *testing.T) {
	ctx := t.Context()
	srv, c := snsTestServer(t, Options{})
	missing := "arn:aws:sns:us-east-1:000000000000:missing"

	_, err := c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(missing), Message: aws.String("x")})
	var nf *snstypes.NotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("Publish to a missing topic: %v, want NotFoundException", err)
	}
	_, err = c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(missing), Protocol: aws.String("file"), Endpoint: aws.String("/tmp/x")})
	if !errors.As(err, &nf) {
		t.Fatalf("Subscribe to a missing topic: %v, want NotFoundException", err)
	}
	_, err = c.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(missing + ":nope")})
	if !errors.As(err, &nf) {
		t.Fatalf("Unsubscribe of a missing subscription: %v, want NotFoundException", err)
	}
	if _, err := srv.SNS.Publish(ctx, missing, "", "x"); !errors.As(err, &nf) {
		t.Fatalf("direct Publish to a missing topic: %v, want NotFoundException", err)
	}

	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	var ip *snstypes.InvalidParameterException
	for name, in := range map[string]*sns.PublishInput{
		"empty message":  {TopicArn: topic.TopicArn, Message: aws.String("")},
		"no topic":       {Message: aws.String("x")},
		"long subject":   {TopicArn: topic.TopicArn, Message: aws.String("x"), Subject: aws.String(strings.Repeat("s", 101))},
		"bad structure":  {TopicArn: topic.TopicArn, Message: aws.String(`{"email":"x"}`), MessageStructure: aws.String("json")},
		"phone number":   {PhoneNumber: aws.String("+15555550100"), Message: aws.String("x")},
		"too long":       {TopicArn: topic.TopicArn, Message: aws.String(strings.Repeat("m", 256<<10+1))},
		"attribute type": {TopicArn: topic.TopicArn, Message: aws.String("x"), MessageAttributes: map[string]snstypes.MessageAttributeValue{"a": {DataType: aws.String(""), StringValue: aws.String("v")}}},
	} {
		if _, err := c.Publish(ctx, in); !errors.As(err, &ip) {
			t.Errorf("Publish (%s): %v, want InvalidParameterException", name, err)
		}
	}
	for name, in := range map[string]*sns.SubscribeInput{
		"sqs":           {TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String("arn:aws:sqs:us-east-1:000000000000:q")},
		"relative file": {TopicArn: topic.TopicArn, Protocol: aws.String("file"), Endpoint: aws.String("out.jsonl")},
		"http scheme":   {TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String("https://example.com/")},
	} {
		if _, err := c.Subscribe(ctx, in); !errors.As(err, &ip) {
			t.Errorf("Subscribe (%s): %v, want InvalidParameterException", name, err)
		}
	}
	if _, err := srv.SNS.Publish(ctx, *topic.TopicArn, "", ""); !errors.As(err, &ip) {
		t.Errorf("direct Publish of an empty message: %v, want InvalidParameterException", err)
	}
	if n := len(srv.SNS.Messages()); n != 0 {
		t.Errorf("%d messages recorded by failed publications", n)
	}
}

// TestSNSWireFormat checks the XML answers byte for byte where the SDK is
// lenient.
func TestSNSWireFormat(t *testing.T) {
	srv, c := snsTestServer(t, Options{})
	topic, err := c.CreateTopic(t.Context(), &sns.CreateTopicInput{Name: aws.String("wire")})
	if err != nil {
		t.Fatal(err)
	}
	post := func(form url.Values) (int, string) {
		t.Helper()
		resp, err := http.Post(srv.URL(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if ct := resp.Header.Get("Content-Type"); ct != "text/xml" {
			t.Errorf("Content-Type %q", ct)
		}
		return resp.StatusCode, string(body)
	}

	status, body := post(url.Values{"Action": {"Publish"}, "Version": {"2010-03-31"}, "TopicArn": {*topic.TopicArn}, "Message": {"hi"}})
	var ok struct {
		XMLName   xml.Name
		MessageID string `xml:"PublishResult>MessageId"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal([]byte(body), &ok); err != nil || status != 200 {
		t.Fatalf("Publish: %d %s (%v)", status, body, err)
	}
	if ok.XMLName != (xml.Name{Space: "http://sns.amazonaws.com/doc/2010-03-31/", Local: "PublishResponse"}) || ok.MessageID == "" || ok.RequestID == "" {
		t.Fatalf("Publish answered %s", body)
	}

	var e struct {
		XMLName   xml.Name
		Type      string `xml:"Error>Type"`
		Code      string `xml:"Error>Code"`
		Message   string `xml:"Error>Message"`
		RequestID string `xml:"RequestId"`
	}
	for _, tc := range []struct {
		form   url.Values
		status int
		code   string
	}{
		{url.Values{"Action": {"Publish"}, "Version": {"2010-03-31"}, "TopicArn": {*topic.TopicArn + "x"}, "Message": {"hi"}}, 404, "NotFound"},
		{url.Values{"Action": {"Publish"}, "Version": {"2010-03-31"}, "TopicArn": {*topic.TopicArn}}, 400, "InvalidParameter"},
		{url.Values{"Action": {"Unsubscribe"}, "Version": {"2010-03-31"}}, 400, "InvalidParameter"},
		{url.Values{"Action": {"DeleteTopic"}, "Version": {"2010-03-31"}}, 400, "InvalidParameter"},
		{url.Values{"Action": {"Unsubscribe"}, "Version": {"2010-03-31"}, "SubscriptionArn": {*topic.TopicArn + ":x"}}, 404, "NotFound"},
	} {
		status, body := post(tc.form)
		e.Code, e.Type, e.RequestID = "", "", ""
		if err := xml.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("%v: %s (%v)", tc.form, body, err)
		}
		if status != tc.status || e.Code != tc.code || e.Type != "Sender" || e.Message == "" || e.RequestID == "" || e.XMLName.Local != "ErrorResponse" {
			t.Errorf("%v: HTTP %d %s; want HTTP %d code %s", tc.form, status, body, tc.status, tc.code)
		}
	}

	// An action SNS has but rotor does not is InvalidAction, in SNS's shape.
	_, err = c.GetSubscriptionAttributes(t.Context(), &sns.GetSubscriptionAttributesInput{SubscriptionArn: aws.String(*topic.TopicArn + ":x")})
	if err == nil || !strings.Contains(err.Error(), "InvalidAction") {
		t.Fatalf("GetSubscriptionAttributes: %v, want InvalidAction", err)
	}
}

func readJSONLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestSNSFileSubscription(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 11, 26, 10, 0, 0, 123e6, time.UTC)
	_, c := snsTestServer(t, Options{Now: func() time.Time { return now }})
	file := filepath.Join(t.TempDir(), "notes.jsonl")
	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("files")})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("file"), Endpoint: aws.String(file)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(aws.ToString(sub.SubscriptionArn), *topic.TopicArn+":") {
		t.Fatalf("SubscriptionArn %q", aws.ToString(sub.SubscriptionArn))
	}
	again, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("file"), Endpoint: aws.String(file)})
	if err != nil || *again.SubscriptionArn != *sub.SubscriptionArn {
		t.Fatalf("subscribing again gave %v, %v; want the same subscription", again, err)
	}
	subs, err := c.ListSubscriptions(ctx, &sns.ListSubscriptionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	wantSub := []snstypes.Subscription{{SubscriptionArn: sub.SubscriptionArn, Owner: aws.String("000000000000"),
		Protocol: aws.String("file"), Endpoint: aws.String(file), TopicArn: topic.TopicArn}}
	if diff := cmp.Diff(wantSub, subs.Subscriptions, cmp.AllowUnexported(snstypes.Subscription{})); diff != "" {
		t.Fatalf("ListSubscriptions (-want +got):\n%s", diff)
	}
	byTopic, err := c.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: topic.TopicArn})
	if err != nil || len(byTopic.Subscriptions) != 1 {
		t.Fatalf("ListSubscriptionsByTopic: %v, %v", byTopic, err)
	}

	pub, err := c.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Subject: aws.String("S"), Message: aws.String("line one\nline two")})
	if err != nil {
		t.Fatal(err)
	}
	// Written before Publish returns.
	lines := readJSONLines(t, file)
	want := []map[string]any{{"Type": "Notification", "MessageId": *pub.MessageId, "TopicArn": *topic.TopicArn,
		"Subject": "S", "Message": "line one\nline two", "Timestamp": "2026-11-26T10:00:00.123Z"}}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Fatalf("file lines (-want +got):\n%s", diff)
	}

	// MessageStructure=json delivers the "default" text to files.
	if _, err := c.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, MessageStructure: aws.String("json"),
		Message: aws.String(`{"default":"plain","http":"for http"}`)}); err != nil {
		t.Fatal(err)
	}
	if lines := readJSONLines(t, file); len(lines) != 2 || lines[1]["Message"] != "plain" {
		t.Fatalf("after a structured message: %v", lines)
	}

	if _, err := c.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: sub.SubscriptionArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("unheard")}); err != nil {
		t.Fatal(err)
	}
	if lines := readJSONLines(t, file); len(lines) != 2 {
		t.Fatalf("%d lines after unsubscribing, want 2", len(lines))
	}
}

func TestSNSHTTPSubscription(t *testing.T) {
	ctx := t.Context()
	type delivery struct {
		header http.Header
		body   []byte
	}
	got := make(chan delivery, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Clone(), body}
	}))
	defer hook.Close()

	srv, c := snsTestServer(t, Options{})
	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("hooks")})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(hook.URL + "/sns")})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(hook.URL + "/raw"),
		Attributes: map[string]string{"RawMessageDelivery": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	// A dead endpoint does not hold anything up.
	if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String("http://127.0.0.1:1/dead")}); err != nil {
		t.Fatal(err)
	}
	pub, err := srv.SNS.Publish(ctx, *topic.TopicArn, "Rotated", `{"secret":"db"}`)
	if err != nil {
		t.Fatal(err)
	}

	var note, rawNote *delivery
	for note == nil || rawNote == nil {
		select {
		case d := <-got:
			if d.header.Get("X-Amz-Sns-Subscription-Arn") == *raw.SubscriptionArn {
				rawNote = &d
			} else {
				note = &d
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no notification delivered within 5 s")
		}
	}
	for k, v := range map[string]string{
		"X-Amz-Sns-Message-Type":     "Notification",
		"X-Amz-Sns-Message-Id":       pub,
		"X-Amz-Sns-Topic-Arn":        *topic.TopicArn,
		"X-Amz-Sns-Subscription-Arn": *sub.SubscriptionArn,
		"Content-Type":               "text/plain; charset=UTF-8",
	} {
		if got := note.header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	var n map[string]any
	if err := json.Unmarshal(note.body, &n); err != nil {
		t.Fatalf("notification %s: %v", note.body, err)
	}
	ts, _ := n["Timestamp"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("Timestamp %q: %v", ts, err)
	}
	delete(n, "Timestamp")
	want := map[string]any{"Type": "Notification", "MessageId": pub, "TopicArn": *topic.TopicArn, "Subject": "Rotated", "Message": `{"secret":"db"}`}
	if diff := cmp.Diff(want, n); diff != "" {
		t.Errorf("notification (-want +got):\n%s", diff)
	}
	if string(rawNote.body) != `{"secret":"db"}` {
		t.Errorf("raw delivery %q", rawNote.body)
	}
}

func TestSNSPersistence(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	data, file := filepath.Join(dir, "rotor.db"), filepath.Join(dir, "notes.jsonl")

	srv, c := snsTestServer(t, Options{DataFile: data})
	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("kept")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String("arn:aws:sns:us-east-1:000000000000:gone")}); err != nil {
		t.Fatal(err)
	}
	sub, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("file"), Endpoint: aws.String(file)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := c.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String(fmt.Sprint("m", i)),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{"n": {DataType: aws.String("Number"), StringValue: aws.String(fmt.Sprint(i))}}}); err != nil {
			t.Fatal(err)
		}
	}
	before := srv.SNS.Messages()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv2, c2 := snsTestServer(t, Options{DataFile: data})
	if diff := cmp.Diff(before, srv2.SNS.Messages()); diff != "" {
		t.Fatalf("messages after restart (-before +after):\n%s", diff)
	}
	topics, err := c2.ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(topics.Topics) != 1 || *topics.Topics[0].TopicArn != *topic.TopicArn {
		t.Fatalf("topics after restart: %+v", topics.Topics)
	}
	subs, err := c2.ListSubscriptions(ctx, &sns.ListSubscriptionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(subs.Subscriptions) != 1 || *subs.Subscriptions[0].SubscriptionArn != *sub.SubscriptionArn {
		t.Fatalf("subscriptions after restart: %+v", subs.Subscriptions)
	}
	if _, err := srv2.SNS.Publish(ctx, *topic.TopicArn, "", "after restart"); err != nil {
		t.Fatal(err)
	}
	lines := readJSONLines(t, file)
	if len(lines) != 4 || lines[3]["Message"] != "after restart" {
		t.Fatalf("file after restart: %v", lines)
	}
	if msgs := srv2.SNS.Messages(); len(msgs) != 4 || msgs[3].Message != "after restart" {
		t.Fatalf("messages: %+v", msgs)
	}
}

// TestSNSConcurrentPublish publishes from many goroutines (for the race
// detector) and checks every message is recorded and written once.
func TestSNSConcurrentPublish(t *testing.T) {
	ctx := context.Background()
	srv, c := snsTestServer(t, Options{DataFile: filepath.Join(t.TempDir(), "db")})
	file := filepath.Join(t.TempDir(), "n.jsonl")
	topic, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("busy")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("file"), Endpoint: aws.String(file)}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 20)
	for i := range 20 {
		go func() {
			_, err := c.Publish(ctx, &sns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String(fmt.Sprint(i))})
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n, lines := len(srv.SNS.Messages()), len(readJSONLines(t, file)); n != 20 || lines != 20 {
		t.Fatalf("%d messages, %d lines; want 20", n, lines)
	}
}
