// Package rotorerr defines the error kinds every rotor component speaks.
//
// A Kind is both a sentinel error (wrap it with %w and test it with errors.Is)
// and the exact errorType Step Functions matches in Retry and Catch. Kinds are
// defined here, at the bottom of the dependency graph, so that providers can
// say "transient" or "credential rejected" without knowing about steps, and
// the Lambda boundary can map any error to exactly one name.
package rotorerr

import (
	"context"
	"errors"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// Kind is an error class with a Step Functions error name.
type Kind string

// The names Step Functions retries and catches (docs/architecture.md, "Errors").
const (
	// Transient: throttling, 5xx, timeouts. Safe to retry.
	Transient Kind = "Rotor.Transient"
	// Conflict: another rotation holds AWSPENDING (or moved AWSCURRENT meanwhile).
	Conflict Kind = "Rotor.Conflict"
	// VerificationFailed: the new credential does not work.
	VerificationFailed Kind = "Rotor.VerificationFailed"
	// InvalidInput: bad event, unknown provider, missing tag or master secret.
	InvalidInput Kind = "Rotor.InvalidInput"
	// NotFound: the secret or version does not exist.
	NotFound Kind = "Rotor.NotFound"
	// Unsafe: a step refused because it would break an invariant.
	Unsafe Kind = "Rotor.Unsafe"
)

// All lists every Kind, in the order of docs/architecture.md's table.
var All = []Kind{Transient, Conflict, VerificationFailed, InvalidInput, NotFound, Unsafe}

func (k Kind) Error() string { return string(k) }

// New returns an error of kind k with a message. The message must never
// contain a secret value.
func New(k Kind, msg string) error { return &kindError{kind: k, msg: msg} }

// Wrap marks err as kind k, keeping err in the chain for errors.Is/As.
func Wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: k, err: err}
}

type kindError struct {
	kind Kind
	msg  string
	err  error
}

func (e *kindError) Error() string {
	if e.err == nil {
		return e.msg
	}
	if e.msg == "" {
		return e.err.Error()
	}
	return e.msg + ": " + e.err.Error()
}

func (e *kindError) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.err}
}

// Classify returns the Kind of err. An explicit Kind anywhere in the chain
// wins (the outermost one, as errors.Is walks from the outside in); otherwise
// context deadlines, network timeouts, throttling and server faults are
// Transient, "not found" API errors are NotFound, and anything else is
// Transient too: an unknown failure is retried a bounded number of times and
// then caught, which is safer than failing a half-done rotation at once.
func Classify(err error) Kind {
	if err == nil {
		return ""
	}
	if k, ok := explicit(err); ok {
		return k
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Transient
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return Transient
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ResourceNotFoundException":
			return NotFound
		case "InvalidParameterException", "InvalidRequestException", "ResourceExistsException",
			"MalformedPolicyDocumentException", "LimitExceededException":
			// Our own request was refused for the state it found: not worth retrying.
			return Unsafe
		}
		if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
			return Transient
		}
		if ae.ErrorFault() == smithy.FaultClient {
			return Unsafe
		}
		return Transient
	}
	return Transient
}

// explicit finds the outermost Kind in err's tree, depth first.
func explicit(err error) (Kind, bool) {
	switch e := err.(type) {
	case Kind:
		return e, true
	case interface{ Unwrap() []error }:
		for _, c := range e.Unwrap() {
			if k, ok := explicit(c); ok {
				return k, true
			}
		}
	case interface{ Unwrap() error }:
		return explicit(e.Unwrap())
	}
	return "", false
}
