package rotorcdk

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// NewStack is the stack the app deploys: rotor in a stack of its own, with
// cdk-nag's AwsSolutions checks applied (their findings are errors in the
// stack's annotations; every suppression in this package carries its
// reason).
func NewStack(scope constructs.Construct, id string, props *Props, stackProps *awscdk.StackProps) (awscdk.Stack, *Rotor) {
	if stackProps == nil {
		stackProps = &awscdk.StackProps{}
	}
	if stackProps.Description == nil {
		stackProps.Description = jsii.String("rotor: automatic secret rotation and leak response on Step Functions")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), stackProps)
	r := NewRotor(stack, "Rotor", props)
	awscdk.Aspects_Of(stack).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return stack, r
}
