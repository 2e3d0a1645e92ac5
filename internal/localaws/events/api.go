package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// admin answers GET /_rotor/events/deliveries: the deliveries as a JSON
// array, ?failed=true for the failures only; and POST /_rotor/events/emit,
// an AWS service's event to put on the default bus (see Emit).
func (e *Service) Admin(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path == "/_rotor/events/emit" {
		e.serveEmit(w, r)
		return true
	}
	if r.URL.Path != "/_rotor/events/deliveries" {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return true
	}
	ds := e.Deliveries()
	if r.URL.Query().Get("failed") == "true" {
		ds = e.Failures()
	}
	if ds == nil {
		ds = []Delivery{}
	}
	wire.WriteEncoded(w, "application/json", ds, json.Marshal)
	return true
}

func (e *Service) serveEmit(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEventsSize))
	if err != nil {
		http.Error(w, "event: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	id, err := e.Emit(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	wire.WriteEncoded(w, "application/json", map[string]string{"id": id}, json.Marshal)
}

// serve answers one awsJson1.1 request.
func (e *Service) Serve(w http.ResponseWriter, r *http.Request, op string, body []byte) {
	w.Header().Set("X-Amzn-RequestId", uuid.NewString())
	var out any
	var err error
	switch op {
	case "CreateEventBus":
		out, err = ebCall(body, e.createEventBus)
	case "DeleteEventBus":
		out, err = ebCall(body, e.deleteEventBus)
	case "DescribeEventBus":
		out, err = ebCall(body, e.describeEventBus)
	case "ListEventBuses":
		out, err = ebCall(body, e.listEventBuses)
	case "PutRule":
		out, err = ebCall(body, e.putRule)
	case "DescribeRule":
		out, err = ebCall(body, e.describeRule)
	case "ListRules":
		out, err = ebCall(body, e.listRules)
	case "DeleteRule":
		out, err = ebCall(body, e.deleteRule)
	case "PutTargets":
		out, err = ebCall(body, e.putTargets)
	case "RemoveTargets":
		out, err = ebCall(body, e.removeTargets)
	case "ListTargetsByRule":
		out, err = ebCall(body, e.listTargetsByRule)
	case "PutEvents":
		out, err = ebCall(body, e.putEvents)
	default:
		err = &wire.Error{Code: "UnknownOperationException", Message: fmt.Sprintf("operation %s is not supported by rotor's local endpoint", op)}
	}
	if err != nil {
		var ae *wire.Error
		if !errors.As(err, &ae) && !isSDKError(err) {
			e.env.Log.Error("events", "operation", op, "error", err)
		}
		wire.WriteJSONError(w, eventsJSON, err)
		return
	}
	wire.WriteJSON(w, eventsJSON, out)
}

// ebCall decodes an operation's input and runs it.
func ebCall[I, O any](body []byte, op func(*I) (O, error)) (any, error) {
	var in I
	if err := wire.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	return op(&in)
}

// isSDKError tells whether err is one of the EventBridge SDK's typed errors.
func isSDKError(err error) bool {
	var nf *ebtypes.ResourceNotFoundException
	var ae *ebtypes.ResourceAlreadyExistsException
	var ip *ebtypes.InvalidEventPatternException
	var le *ebtypes.LimitExceededException
	return errors.As(err, &nf) || errors.As(err, &ae) || errors.As(err, &ip) || errors.As(err, &le)
}
