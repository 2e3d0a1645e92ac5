// Command function is the ecsrestart handler as a Lambda function (build
// it for provided.al2023 as bootstrap): ROTOR_SECRET_ID, ECS_CLUSTER and
// ECS_SERVICE configure it; its role needs ecs:UpdateService on the
// service.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	ecsrestart "github.com/rotorhq/rotor/examples/ecs-restart"
)

func main() {
	cfg, err := ecsrestart.LoadConfig(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatalf("AWS configuration: %v", err)
	}
	h := &ecsrestart.Handler{ECS: ecs.NewFromConfig(awsCfg), Config: cfg}
	lambda.Start(h.Handle)
}
