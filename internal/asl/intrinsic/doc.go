// Package intrinsic parses and evaluates the Amazon States Language intrinsic
// functions of the JSONPath query language ("States.Format(...)" and the 17
// others), for an offline engine that must behave like AWS Step Functions.
//
// # Contract
//
// Parse turns one field value such as "States.Format('Hello, {}', $.name)"
// into a Call, or returns an error naming the problem and its byte offset. A
// Call is immutable and safe for concurrent use: Eval may run on many
// goroutines at once.
//
// Eval resolves the JSONPath arguments through Env.Path (the engine owns the
// JSONPath semantics, the "$" input, the "$$" context object and any
// variables) and returns encoding/json's generic values: map[string]any,
// []any, string, float64, bool and nil. Every failure during evaluation
// (wrong argument count or type, invalid JSON, a value out of range, an error
// from Env.Path) is an *Error; the engine raises it as
// States.IntrinsicFailure with Error.Message as the cause. An error from
// Env.Path is wrapped, so errors.As and errors.Is see through the *Error.
//
// Eval never modifies the values Env.Path returns, but results may share
// structure with them (States.ArrayGetItem returns the element itself, for
// example): an engine that mutates results afterwards must copy first.
//
// Paths lists every JSONPath argument, nested calls included, so the engine
// can validate them when it loads a definition.
//
// # Where AWS's documentation is silent
//
// AWS's documented behaviour wins over the specification on
// states-language.net. Where the documentation is silent or ambiguous the
// behaviour was taken from execution histories recorded against AWS (the
// LocalStack snapshot tests), and where nothing was observable a choice was
// made; each choice is commented where it is implemented, and the tests name
// the rule they check.
package intrinsic
