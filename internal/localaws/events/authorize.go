package events

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rotorhq/rotor/internal/iampolicy"
	"github.com/rotorhq/rotor/internal/localaws/wire"
)

// Authorize tells which permissions an EventBridge request needs, for the
// server's Options.EnforceIAM: PutEvents events:PutEvents on the bus of
// each entry (with events:source and events:detail-type; an entry naming
// no valid bus is failed by PutEvents itself, and needs nothing); the
// rule and target operations events:OP on the rule's ARN; the bus
// operations on the bus's ARN; ListRules and ListEventBuses on "*".
// PutTargets does not check iam:PassRole for a target's RoleArn.
func (e *Service) Authorize(_ *http.Request, op string, body []byte) ([]wire.Access, error) {
	one := func(resource string, ctx map[string][]string) []wire.Access {
		return []wire.Access{{Request: iampolicy.Request{Action: "events:" + op, Resource: resource, Context: ctx}}}
	}
	switch op {
	case "ListRules", "ListEventBuses":
		return one("*", nil), nil
	case "PutEvents":
		var in putEventsInput
		if err := wire.DecodeJSON(body, &in); err != nil {
			return nil, err
		}
		var out []wire.Access
		for _, en := range in.Entries {
			bus, err := busName(en.EventBusName)
			if err != nil {
				continue
			}
			ctx := map[string][]string{}
			if en.Source != nil {
				ctx["events:source"] = []string{*en.Source}
			}
			if en.DetailType != nil {
				ctx["events:detail-type"] = []string{*en.DetailType}
			}
			out = append(out, one(e.busARN(bus), ctx)...)
		}
		return out, nil
	case "CreateEventBus", "DeleteEventBus", "DescribeEventBus", "PutRule", "DescribeRule", "DeleteRule",
		"PutTargets", "RemoveTargets", "ListTargetsByRule":
	default:
		return nil, wire.ErrNotModelled
	}
	var in struct{ Name, Rule, EventBusName *string }
	if err := wire.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	switch op {
	case "CreateEventBus", "DeleteEventBus", "DescribeEventBus":
		bus, err := busName(in.Name)
		if err != nil {
			return nil, err
		}
		return one(e.busARN(bus), nil), nil
	}
	bus, err := busName(in.EventBusName)
	if err != nil {
		return nil, err
	}
	rule := aws.ToString(in.Name)
	if rule == "" {
		rule = aws.ToString(in.Rule)
	}
	return one(e.ruleARN(bus, rule), nil), nil
}
