package rotorcdk_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rotorhq/rotor/infra/rotorcdk"
)

func TestParseConfigDefaults(t *testing.T) {
	got, err := rotorcdk.ParseConfig([]byte(`{"secrets": [{"secretId": "a", "schedule": "rate(7 days)"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	five := 5
	want := &rotorcdk.Config{
		Secrets:         []rotorcdk.ScheduledSecret{{SecretID: "a", Schedule: "rate(7 days)", TimeZone: "UTC"}},
		SweeperSchedule: "rate(15 minutes)", SweeperTimeZone: "UTC", LogRetentionDays: 30, WriteBudget: 10,
		LeakSources: &rotorcdk.LeakSources{GuardDuty: true, Health: true, EventBus: true}, LockTTL: "30m",
		StateMachineName: "rotor-rotation", WebhookReservedConcurrency: &five, EventBusName: "default",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseConfigScoping(t *testing.T) {
	got, err := rotorcdk.ParseConfig([]byte(`{"secretNamePrefixes": ["prod/", "shared/masters/"], "webhookReservedConcurrency": 0}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"prod/", "shared/masters/"}, got.SecretNamePrefixes); diff != "" {
		t.Errorf("SecretNamePrefixes (-want +got):\n%s", diff)
	}
	if got.WebhookReservedConcurrency == nil || *got.WebhookReservedConcurrency != 0 {
		t.Errorf("WebhookReservedConcurrency = %v, want 0 (an explicit 0 is not the default)", got.WebhookReservedConcurrency)
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := []struct{ config, want string }{
		{`{"secret": []}`, `unknown field "/secret"`},
		{`{"logRetentionDays": 31}`, "logRetentionDays 31 is not a retention CloudWatch Logs accepts"},
		{`{"writeBudget": 46}`, "writeBudget 46 is outside 0.1..45 writes per second"},
		{`{"writeBudget": -1}`, "writeBudget -1 is outside 0.1..45 writes per second"},
		{`{"maxConcurrency": 10}`, "maxConcurrency is gone: each secret now rotates in its own child execution, paced by writeBudget"},
		{`{"lockTtl": "soon"}`, `lockTtl "soon" is not a positive Go duration`},
		{`{"sweeperSchedule": "daily"}`, `sweeperSchedule "daily" is not rate(...), cron(...) or off`},
		{`{"secrets": [{"schedule": "rate(1 day)"}]}`, "secrets[0]: secretId is required"},
		{`{"secrets": [{"secretId": "a", "schedule": "every day"}]}`, `secrets[0]: schedule "every day" is not rate(...) or cron(...)`},
		{`{"secrets": [{"secretId": "a", "schedule": "rate(1 day)"}, {"secretId": "a", "schedule": "rate(2 days)"}]}`, `secrets[1]: secret "a" is listed twice`},
		{`{"secrets": [{"secretId": "a", "schedule": "rate(1 day)", "timeZone": "Mars/Olympus"}]}`, `timeZone "Mars/Olympus" is not an IANA time zone`},
		{`{"secrets": [{"secretId": "a", "schedule": "rate(1 day)", "gracePeriod": "1 week"}]}`, `gracePeriod "1 week" is not a Go duration`},
		{`{"stateMachineName": "rotor rotation"}`, `stateMachineName "rotor rotation" is not 1 to 80 letters`},
		{`{"alertEmails": ["secops"]}`, `alertEmails: "secops" is not an email address`},
		{`{"vpc": {"securityGroupIds": ["sg-01234567"]}}`, "vpc: subnetIds is required"},
		{`{"vpc": {"subnetIds": ["subnet-01234567"]}}`, "vpc: securityGroupIds is required"},
		{`{"vpc": {"subnetIds": ["vpc-01234567"], "securityGroupIds": ["sg-01234567"]}}`, `vpc: "vpc-01234567" is not a subnet id`},
		{`{"vpc": {"subnetIds": ["subnet-01234567"], "securityGroupIds": ["sg-xyz"]}}`, `vpc: "sg-xyz" is not a security group id`},
		{`{"vpc": {"subnets": []}}`, `unknown field "/vpc/subnets"`},
		{`{"secretNamePrefixes": ["prod/*"]}`, `secretNamePrefixes[0]: prefix "prod/*" is not 1 to 256 characters`},
		{`{"secretNamePrefixes": ["prod/", ""]}`, `secretNamePrefixes[1]: prefix "" is not 1 to 256 characters`},
		{`{"secretNamePrefixes": ["prod/,team/"]}`, `secretNamePrefixes[0]: "prod/,team/" is not one prefix`},
		{`{"secretNamePrefixes": [" prod/"]}`, `secretNamePrefixes[0]: " prod/" is not one prefix`},
		{`{"secretNamePrefixes": ["prod/", "prod/"]}`, `secretNamePrefixes[1]: "prod/" is listed twice`},
		{`{"secretNamePrefixes": "prod/"}`, `secretNamePrefixes`},
		{`{"webhookReservedConcurrency": -1}`, "webhookReservedConcurrency -1 is negative (0 reserves nothing)"},
		{`{"webhookReservedConcurrency": 2.5}`, "webhookReservedConcurrency"},
		{`{"eventBusName": "arn:aws:events:us-east-1:123456789012:event-bus/ops"}`, `eventBusName "arn:aws:events:us-east-1:123456789012:event-bus/ops" is an ARN: give the bus's name`},
		{`{"eventBusName": "ops bus"}`, `eventBusName "ops bus" is not 1 to 256 letters, digits and /._-`},
		{`{"eventBusName": "rotor-leaks"}`, `eventBusName "rotor-leaks" is the leak alerts' bus`},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			_, err := rotorcdk.ParseConfig([]byte(c.config))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseConfig(%s) = %v, want an error containing %q", c.config, err, c.want)
			}
		})
	}
}
