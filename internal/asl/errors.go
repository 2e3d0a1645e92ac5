package asl

import "fmt"

// Predefined error names (states-language.net, Appendix A; AWS Step
// Functions developer guide, "Error names").
const (
	ErrAll                  = "States.ALL"
	ErrTimeout              = "States.Timeout"
	ErrHeartbeatTimeout     = "States.HeartbeatTimeout"
	ErrTaskFailed           = "States.TaskFailed"
	ErrPermissions          = "States.Permissions"
	ErrResultPathMatch      = "States.ResultPathMatchFailure"
	ErrParameterPath        = "States.ParameterPathFailure"
	ErrBranchFailed         = "States.BranchFailed"
	ErrNoChoiceMatched      = "States.NoChoiceMatched"
	ErrIntrinsicFailure     = "States.IntrinsicFailure"
	ErrRuntime              = "States.Runtime"
	ErrDataLimitExceeded    = "States.DataLimitExceeded"
	ErrExceedToleratedFails = "States.ExceedToleratedFailureThreshold"
)

// MaxPayload is Step Functions' limit on a state's input or output and on a
// task result: 256 KiB.
const MaxPayload = 256 * 1024

// stateError is an error raised inside an execution.
type stateError struct {
	name, cause string
}

func (e *stateError) Error() string { return e.name + ": " + e.cause }

func runtimeErr(format string, args ...any) *stateError {
	return &stateError{name: ErrRuntime, cause: fmt.Sprintf(format, args...)}
}

// terminal errors end the execution: neither States.ALL nor any retrier or
// catcher handles them (AWS developer guide: "States.ALL ... can't catch the
// States.DataLimitExceeded terminal error or the Runtime error types").
func terminal(name string) bool { return name == ErrRuntime || name == ErrDataLimitExceeded }

// matches reports whether an error name matches a retrier's or catcher's
// ErrorEquals. States.TaskFailed matches every error but States.Timeout, as
// AWS documents for retriers and catchers.
func matches(errorEquals []string, name string) bool {
	if terminal(name) {
		return false
	}
	for _, e := range errorEquals {
		switch {
		case e == name, e == ErrAll:
			return true
		case e == ErrTaskFailed && name != ErrTimeout:
			return true
		}
	}
	return false
}
