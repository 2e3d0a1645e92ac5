// Package awsarn parses the AWS resource names that both the state machine
// engine (internal/asl) and the local endpoint's Lambda service read, so
// that they agree on which forms name which function.
package awsarn

import "strings"

// FunctionName reduces what Lambda accepts as a FunctionName to the
// function's name: NAME, NAME:QUALIFIER, ACCOUNT:function:NAME[:QUALIFIER]
// and arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]. Any
// other string is returned up to its first colon, as a name with a
// qualifier would be.
func FunctionName(s string) string {
	if name, ok := arnFunction(s); ok {
		return name
	}
	parts := strings.SplitN(s, ":", 4)
	if len(parts) >= 3 && parts[1] == "function" && parts[2] != "" {
		return parts[2] // ACCOUNT:function:NAME[:QUALIFIER]
	}
	return parts[0]
}

// IsFunctionARN tells whether s is a Lambda function's ARN,
// arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER].
func IsFunctionARN(s string) bool {
	_, ok := arnFunction(s)
	return ok
}

// arnFunction returns the function name of a Lambda function ARN.
func arnFunction(s string) (string, bool) {
	f := strings.SplitN(s, ":", 8)
	if len(f) < 7 || f[0] != "arn" || f[2] != "lambda" || f[5] != "function" || f[6] == "" {
		return "", false
	}
	return f[6], true
}
