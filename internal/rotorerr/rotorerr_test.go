package rotorerr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		rule string
		err  error
		want Kind
	}{
		{"an explicit kind wins", New(Conflict, "held"), Conflict},
		{"an explicit kind survives %w wrapping", fmt.Errorf("step: %w", fmt.Errorf("inner: %w", New(VerificationFailed, "no"))), VerificationFailed},
		{"the outermost kind wins", Wrap(InvalidInput, Wrap(Transient, errors.New("x"))), InvalidInput},
		{"a wrapped deadline is transient", fmt.Errorf("verify: %w", context.DeadlineExceeded), Transient},
		{"a network error is transient", fmt.Errorf("call: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), Transient},
		{"ResourceNotFoundException is NotFound", &smithy.OperationError{Err: &types.ResourceNotFoundException{}}, NotFound},
		{"InvalidParameterException is Unsafe", &smithy.OperationError{Err: &types.InvalidParameterException{}}, Unsafe},
		{"ResourceExistsException is Unsafe", &types.ResourceExistsException{}, Unsafe},
		{"InternalServiceError is transient", &types.InternalServiceError{}, Transient},
		{"throttling is transient", &smithy.GenericAPIError{Code: "ThrottlingException", Fault: smithy.FaultClient}, Transient},
		{"another client fault is Unsafe", &smithy.GenericAPIError{Code: "AccessDeniedException", Fault: smithy.FaultClient}, Unsafe},
		{"an unknown error is retried as transient", errors.New("???"), Transient},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
			}
		})
	}
	if Classify(nil) != "" {
		t.Error("Classify(nil) is not empty")
	}
}

func TestKindIsSentinel(t *testing.T) {
	err := fmt.Errorf("create: %w", New(Conflict, "AWSPENDING held"))
	if !errors.Is(err, Conflict) || errors.Is(err, Transient) {
		t.Error("errors.Is does not see exactly the kind")
	}
	if err.Error() != "create: AWSPENDING held" {
		t.Errorf("message %q", err.Error())
	}
	if w := Wrap(Transient, errors.New("reset")); w.Error() != "reset" || !errors.Is(w, Transient) {
		t.Errorf("Wrap: %q", w.Error())
	}
	if Wrap(Transient, nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
}
