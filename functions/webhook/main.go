// Command webhook receives leak alerts behind a Lambda function URL (runtime
// provided.al2023) and puts them on the rotor-leaks bus. All logic lives in
// internal/webhook.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rotorhq/rotor/internal/webhook"
)

func main() {
	h, err := webhook.FromEnv(context.Background(), os.Getenv)
	if err != nil {
		log.Fatalf("webhook: %v", err)
	}
	lambda.Start(h.FunctionURL)
}
