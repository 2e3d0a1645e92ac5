package wire

import (
	"errors"
	"net/http"

	"github.com/aws/smithy-go"
)

// Error is an error answered to the client with its AWS error code.
type Error struct {
	Code    string
	Message string
	Status  int // HTTP status; 0 is 400
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ErrorCode is the AWS error code, as the SDK's errors name theirs (Step
// Functions' integrations raise it as SERVICE.<Code>Exception).
func (e *Error) ErrorCode() string { return e.Code }

// HTTPStatus is e's status, 400 when unset.
func (e *Error) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// AsError finds what err answers: an *Error keeps its code, message and
// status; a smithy API error (the SDK's typed errors, which services
// return where the SDK has one) keeps its code and message, with 400 for a
// client fault and 500 for a server fault; anything else is a 500 with
// code fallback and err's text. ok tells whether err was an API error.
func AsError(err error, fallback string) (e *Error, ok bool) {
	var we *Error
	var se smithy.APIError
	switch {
	case errors.As(err, &we):
		return we, true
	case errors.As(err, &se):
		status := http.StatusBadRequest
		if se.ErrorFault() == smithy.FaultServer {
			status = http.StatusInternalServerError
		}
		return &Error{Code: se.ErrorCode(), Message: se.ErrorMessage(), Status: status}, true
	}
	return &Error{Code: fallback, Message: err.Error(), Status: http.StatusInternalServerError}, false
}
