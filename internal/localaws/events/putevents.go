package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/google/uuid"

	"github.com/rotorhq/rotor/internal/iampolicy"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Events.

// putEventsInput is PutEventsInput as it comes over the wire: the SDK's
// own struct cannot decode Time, which is epoch seconds.
type putEventsInput struct {
	Entries    []putEventsEntry
	EndpointID *string `json:"EndpointId"`
}

type putEventsEntry struct {
	Time                                                  *json.Number
	Source, DetailType, Detail, EventBusName, TraceHeader *string
	Resources                                             []string
}

// ebEvent is an event's envelope, its members in EventBridge's order.
type ebEvent struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

func entryError(code, msg string) ebtypes.PutEventsResultEntry {
	return ebtypes.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String(msg)}
}

func (e *Service) putEvents(in *putEventsInput) (*eventbridge.PutEventsOutput, error) {
	if n := len(in.Entries); n < 1 || n > maxEntries {
		return nil, ebValidation("1 validation error detected: Value '%d' at 'entries' failed to satisfy constraint: Member must have length between 1 and %d", n, maxEntries)
	}
	// The size of the entries as EventBridge counts it ("Calculating
	// PutEvents event entry size").
	size := 0
	for _, en := range in.Entries {
		if en.Time != nil {
			size += 14
		}
		size += len(aws.ToString(en.Source)) + len(aws.ToString(en.DetailType)) + len(aws.ToString(en.Detail))
		for _, r := range en.Resources {
			size += len(r)
		}
	}
	if size > maxEventsSize {
		return nil, ebValidation("Total size of the entries in the request is over the limit.")
	}
	now := e.env.Now().UTC()
	out := &eventbridge.PutEventsOutput{Entries: make([]ebtypes.PutEventsResultEntry, len(in.Entries))}
	for i, en := range in.Entries {
		ev, bus, res := e.event(en.Source, en.DetailType, en.Detail, en.EventBusName, en.Time, en.Resources, now)
		if res.ErrorCode != nil {
			out.Entries[i] = res
			out.FailedEntryCount++
			continue
		}
		out.Entries[i] = ebtypes.PutEventsResultEntry{EventId: aws.String(ev.ID)}
		e.dispatch(ev, bus, now)
	}
	return out, nil
}

// event validates one entry and builds its envelope.
func (e *Service) event(source, detailType, detail, busParam *string, at *json.Number, resources []string, now time.Time) (*ebEvent, string, ebtypes.PutEventsResultEntry) {
	switch {
	case aws.ToString(source) == "":
		return nil, "", entryError("InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument.")
	case aws.ToString(detailType) == "":
		return nil, "", entryError("InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument.")
	case aws.ToString(detail) == "":
		return nil, "", entryError("InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument.")
	case strings.HasPrefix(aws.ToString(source), "aws."):
		return nil, "", entryError("NotAuthorizedForSourceException", "Not authorized for the source.")
	}
	d := bytes.TrimSpace([]byte(aws.ToString(detail)))
	if !json.Valid(d) || d[0] != '{' {
		return nil, "", entryError("MalformedDetail", "Detail is malformed.")
	}
	bus, err := busName(busParam)
	if err != nil {
		return nil, "", entryError("InvalidArgument", "Parameter EventBusName is not valid.")
	}
	e.mu.Lock()
	_, exists := e.buses[bus]
	e.mu.Unlock()
	if !exists {
		return nil, "", entryError("ResourceNotFoundException", "Event bus "+bus+" does not exist.")
	}
	t := now
	if at != nil {
		secs, err := at.Float64()
		if err != nil {
			return nil, "", entryError("InvalidArgument", "Parameter Time is not valid.")
		}
		t = time.UnixMilli(int64(secs * 1000)).UTC()
	}
	if resources == nil {
		resources = []string{}
	}
	return &ebEvent{Version: "0", ID: uuid.NewString(), DetailType: aws.ToString(detailType), Source: aws.ToString(source),
		Account: e.env.Account, Time: t.Format(time.RFC3339), Region: e.env.Region, Resources: resources, Detail: d}, bus, ebtypes.PutEventsResultEntry{}
}

// Emit puts an event as an AWS service would put it on the default bus:
// raw is a whole event envelope (a GuardDuty finding, an AWS Health event),
// the way AWS delivers it and the samples of their documentation show it.
// Unlike PutEvents it takes "aws." sources, which only AWS may send. Id,
// time, account and region are filled in when missing; source,
// detail-type and an object detail are required. It returns the event's
// id; deliveries follow in the background (see Wait).
func (e *Service) Emit(raw []byte) (string, error) {
	var in struct {
		ID         string          `json:"id"`
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Account    string          `json:"account"`
		Time       string          `json:"time"`
		Region     string          `json:"region"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return "", fmt.Errorf("event: %w", err)
	}
	switch d := bytes.TrimSpace(in.Detail); {
	case in.Source == "":
		return "", errors.New("event: source is required")
	case in.DetailType == "":
		return "", errors.New("event: detail-type is required")
	case len(d) == 0 || d[0] != '{':
		return "", errors.New("event: detail must be a JSON object")
	}
	now := e.env.Now().UTC()
	ev := &ebEvent{Version: "0", ID: in.ID, DetailType: in.DetailType, Source: in.Source, Account: in.Account,
		Time: in.Time, Region: in.Region, Resources: in.Resources, Detail: in.Detail}
	if ev.ID == "" {
		ev.ID = uuid.NewString()
	}
	if ev.Time == "" {
		ev.Time = now.Format(time.RFC3339)
	}
	if ev.Account == "" {
		ev.Account = e.env.Account
	}
	if ev.Region == "" {
		ev.Region = e.env.Region
	}
	if ev.Resources == nil {
		ev.Resources = []string{}
	}
	e.dispatch(ev, defaultBus, now)
	return ev.ID, nil
}

// Entry is one event a host puts on a bus on a service's behalf (Step
// Functions' events:putEvents): PutEvents' entry without Time and
// TraceHeader. EventBusName "" is the default bus.
type Entry struct {
	Source, DetailType, Detail, EventBusName string
	Resources                                []string
}

// Put is PutEvents for a host: entries are validated and delivered as
// PutEvents validates and delivers them, one result per entry, and a
// request of no or more than 10 entries, or over 256 KB, is refused
// whole.
func (e *Service) Put(entries []Entry) (*eventbridge.PutEventsOutput, error) {
	in := &putEventsInput{}
	for _, en := range entries {
		in.Entries = append(in.Entries, putEventsEntry{Source: aws.String(en.Source), DetailType: aws.String(en.DetailType), Detail: aws.String(en.Detail),
			EventBusName: aws.String(en.EventBusName), Resources: en.Resources})
	}
	return e.putEvents(in)
}

// PutAccess is what Put needs, as Authorize says of PutEvents:
// events:PutEvents on the bus of each entry, with events:source and
// events:detail-type.
func (e *Service) PutAccess(entries []Entry) []wire.Access {
	var out []wire.Access
	for _, en := range entries {
		bus, err := busName(aws.String(en.EventBusName))
		if err != nil {
			continue // Put answers a failed entry for it
		}
		out = append(out, wire.Access{Request: iampolicy.Request{Action: "events:PutEvents", Resource: e.busARN(bus),
			Context: map[string][]string{"events:source": {en.Source}, "events:detail-type": {en.DetailType}}}})
	}
	return out
}
