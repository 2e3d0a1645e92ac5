// Command create is rotor's create step as an AWS Lambda function (runtime
// provided.al2023). All logic lives in internal/rotation.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	_ "github.com/rotorhq/rotor/internal/provider/all"
	"github.com/rotorhq/rotor/internal/rotation"
)

func main() {
	svc, err := rotation.FromEnv(context.Background())
	if err != nil {
		log.Fatalf("create: %v", err)
	}
	h, err := svc.Handler("create")
	if err != nil {
		log.Fatalf("create: %v", err)
	}
	lambda.Start(h)
}
