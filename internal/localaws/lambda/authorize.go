package lambda

import (
	"net/http"
	"strings"

	"github.com/rotorhq/rotor/internal/awsarn"
	"github.com/rotorhq/rotor/internal/iampolicy"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// InvokeARN is the resource lambda:InvokeFunction is authorized on for a
// FunctionName (NAME, NAME:QUALIFIER, ACCOUNT:function:NAME[:QUALIFIER]
// or a full ARN) and an Invoke's Qualifier parameter (""): a full ARN as
// given, anything else the function's ARN here, each with its qualifier
// (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]), as IAM sees
// an invocation of a version or alias.
func (l *Service) InvokeARN(functionName, qualifier string) string {
	if awsarn.IsFunctionARN(functionName) {
		if qualifier != "" && strings.Count(functionName, ":") == 6 {
			return functionName + ":" + qualifier
		}
		return functionName
	}
	parts := strings.Split(functionName, ":")
	switch {
	case len(parts) == 2:
		qualifier = parts[1]
	case len(parts) == 4 && parts[1] == "function":
		qualifier = parts[3]
	}
	arn := l.functionARN(functionName)
	if qualifier != "" {
		arn += ":" + qualifier
	}
	return arn
}

// Authorize tells which permission a Lambda request needs, for the
// server's Options.EnforceIAM: Invoke needs lambda:InvokeFunction on the
// function (InvokeARN). Function URLs are not authorized here: they are
// served apart, as AuthType NONE.
func (l *Service) Authorize(r *http.Request, op string, _ []byte) ([]wire.Access, error) {
	if op != "Invoke" {
		return nil, wire.ErrNotModelled
	}
	name, ok := invocationsPath(r.URL)
	if !ok {
		return nil, nil // Serve refuses it: not an Invoke
	}
	arn := l.InvokeARN(name, r.URL.Query().Get("Qualifier"))
	return []wire.Access{{Request: iampolicy.Request{Action: "lambda:InvokeFunction", Resource: arn}}}, nil
}
