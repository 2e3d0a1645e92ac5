package sns

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
)

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

func (n *Service) deliverFile(sub snsSubscription, note snsNotification) {
	line, err := json.Marshal(note)
	if err != nil {
		n.env.Log.Error("sns file delivery", "subscription", sub.ARN, "error", err)
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
		n.env.Log.Warn("sns file delivery failed", "subscription", sub.ARN, "file", sub.Endpoint, "error", err)
	}
}

func (n *Service) deliverHTTP(sub snsSubscription, note snsNotification) {
	body := []byte(note.Message)
	if !sub.Raw {
		var err error
		if body, err = json.Marshal(note); err != nil {
			n.env.Log.Error("sns http delivery", "subscription", sub.ARN, "error", err)
			return
		}
	}
	req, err := http.NewRequest(http.MethodPost, sub.Endpoint, bytes.NewReader(body))
	if err != nil {
		n.env.Log.Warn("sns http delivery failed", "subscription", sub.ARN, "error", err)
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
		n.env.Log.Warn("sns http delivery failed", "subscription", sub.ARN, "endpoint", sub.Endpoint, "error", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		n.env.Log.Warn("sns http delivery refused", "subscription", sub.ARN, "endpoint", sub.Endpoint, "status", resp.StatusCode)
	}
}
