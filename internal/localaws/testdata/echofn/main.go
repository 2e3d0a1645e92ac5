// Command echofn is a tiny Lambda function the localaws tests run under the
// Runtime Interface Emulator. It echoes its input, or fails as told.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

type request struct {
	Echo      any    `json:"echo,omitempty"`
	Fail      string `json:"fail,omitempty"`      // return an error with this message
	ErrorType string `json:"errorType,omitempty"` // ... and this type
	Panic     string `json:"panic,omitempty"`     // panic with this value
	Exit      bool   `json:"exit,omitempty"`      // exit the process without answering
	SleepMS   int    `json:"sleepMs,omitempty"`   // sleep first
	Env       string `json:"env,omitempty"`       // return this environment variable
}

type response struct {
	Echo any    `json:"echo,omitempty"`
	Env  string `json:"env,omitempty"`
}

func handle(ctx context.Context, req request) (response, error) {
	if req.SleepMS > 0 {
		time.Sleep(time.Duration(req.SleepMS) * time.Millisecond)
	}
	switch {
	case req.Panic != "":
		panic(req.Panic)
	case req.Exit:
		os.Exit(3)
	case req.Fail != "":
		return response{}, messages.InvokeResponse_Error{Type: req.ErrorType, Message: req.Fail}
	}
	return response{Echo: req.Echo, Env: os.Getenv(req.Env)}, nil
}

func main() { lambda.Start(handle) }
