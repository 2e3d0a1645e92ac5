package rotation

// Staging labels rotor reads and writes.
const (
	LabelCurrent  = "AWSCURRENT"
	LabelPending  = "AWSPENDING"
	LabelPrevious = "AWSPREVIOUS"
	LabelFailed   = "ROTOR_FAILED"
	LabelRevoked  = "ROTOR_REVOKED"
)

// Policy tags on a managed secret (docs/architecture.md, "Tags").
const (
	TagProvider    = "rotor:provider"
	TagMaster      = "rotor:master-secret"
	TagGracePeriod = "rotor:grace-period"
	TagMaxAge      = "rotor:max-age"
	TagStrategy    = "rotor:strategy"
	// TagRole marks a master secret with RoleMaster. The deployed IAM lets
	// only create and expire read secrets so tagged, and no other function
	// read them, so resolve refuses a master secret without it. A master
	// that is itself managed (rotor:provider, with its provider's self
	// strategy) is verified by the expire function for the same reason
	// (ActionVerify).
	TagRole    = "rotor:role"
	RoleMaster = "master"
)

// Triggers.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerLeak     = "leak"
	TriggerSweep    = "sweep"
)

// Modes of a plan item.
const (
	ModeNormal    = "normal"
	ModeEmergency = "emergency" // a leaked current credential: rotate, no grace, revoke the leaked versions
	ModeRevoke    = "revoke"    // only non-current versions leaked: revoke them, rotate nothing
)

// Actions of the expire function.
const (
	ActionExpire   = "expire"
	ActionRollback = "rollback"
	ActionCleanup  = "cleanup"
	ActionRevoke   = "revoke" // revoke the versions a leak names (ModeRevoke)
	// ActionVerify verifies a master secret that rotates itself: the
	// verify function may never read a master (the deployed IAM denies
	// it), the expire function may.
	ActionVerify = "verify"
)

// Input is the state machine's input; every trigger produces this shape.
// Only Trigger plus one of SecretID, Leak or Trigger=sweep is required.
type Input struct {
	SecretID string `json:"secretId,omitempty"`
	Trigger  string `json:"trigger"`
	// GracePeriodSeconds overrides the rotor:grace-period tag (0 to 31536000).
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds,omitempty"`
	Reason             string `json:"reason,omitempty"`
	// DryRun makes resolve return the plan and the execution stop there.
	DryRun bool  `json:"dryRun,omitempty"`
	Leak   *Leak `json:"leak,omitempty"`
	// Planned is set, alone, in a child execution's request for its item.
	Planned *Planned `json:"planned,omitempty"`
}

// Leak describes a leaked credential without its value.
type Leak struct {
	Source      string `json:"source,omitempty"` // guardduty|health|github|gitguardian|generic
	AccessKeyID string `json:"accessKeyId,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"` // "sha256:<hex>" of the leaked value, or GitGuardian's "hmsl:<hex>"
	Reference   string `json:"reference,omitempty"`
	SecretID    string `json:"secretId,omitempty"`
}

// Plan is resolve's output. It carries ids and counts, never a list that
// grows with the fleet: one item inline (a rotation the execution runs
// itself), or references to stored pages (a fan-out that starts one child
// execution per item), so that no state's input or output nears Step
// Functions' 256 KiB at any fleet size.
type Plan struct {
	Trigger string `json:"trigger"`
	DryRun  bool   `json:"dryRun"`
	// Count is how many secrets the plan rotates or revokes.
	Count int `json:"count"`
	// Items holds the plan's one item when the execution rotates it itself:
	// a manual or scheduled rotation, or a leak matching one secret.
	// Absent otherwise.
	Items []Item `json:"items,omitempty"`
	// Pages are the stored pages of a fan-out plan (a sweep, or a leak
	// matching several secrets): the execution starts one page execution
	// per page, and each of those one child execution per item.
	Pages []PageRef `json:"pages,omitempty"`
	// Pace is how fast page executions start children, so that the fleet's
	// Secrets Manager writes stay within the write budget.
	Pace Pace `json:"pace"`
	// Preview names the first items of a dry run's fan-out plan (its answer
	// to "what would this rotate?"); at most PreviewItems.
	Preview []string `json:"preview,omitempty"`
	// OutOfScope counts managed secrets the sweep skipped because their
	// names are outside the deployment's secret prefixes.
	OutOfScope int `json:"outOfScope,omitempty"`
	// Held counts the secrets that are due but wait (paused, outside their
	// window: rotor:paused, rotor:window), and names the first PreviewItems
	// of them with the reason; a scheduled rotation of a held secret is one.
	// Always present: the state machine passes them on by path.
	Held      int        `json:"held"`
	HeldFirst []HeldItem `json:"heldFirst"`
	// Unmatched is a leak that names no managed secret: the state machine
	// reports it as an unmanaged credential leaked.
	Unmatched *Leak `json:"unmatched,omitempty"`
	// AlreadyRevoked is a leak that matches no live credential but one that
	// rotor revoked before (a replayed or repeated alert): the state machine
	// reports it as such, not as an unmanaged credential.
	AlreadyRevoked *RevokedLeak `json:"alreadyRevoked,omitempty"`
}

// PageRef names one stored page of a plan.
type PageRef struct {
	Plan  string `json:"plan"`  // the plan's id (a UUID)
	Index int    `json:"index"` // the page's number, from 0
	Count int    `json:"count"` // items on the page, 1 to MaxPageItems
	// Last is Count-1: the page execution iterates over
	// States.ArrayRange(0, Last, 1).
	Last int `json:"last"`
}

// Pace spaces child starts: each of Concurrency slots starts a child and
// then waits Seconds, so children start at Concurrency/Seconds per second.
type Pace struct {
	Concurrency int `json:"concurrency"`
	Seconds     int `json:"seconds"`
	// RotationsPerSecond is the rate the budget allows, for people reading
	// the plan: WriteBudget / WritesPerRotation.
	RotationsPerSecond float64 `json:"rotationsPerSecond"`
}

// Planned is a child execution's input: which item of which stored page it
// rotates. The child reads the item from the page (only rotor's roles
// write pages), so its input holds ids only.
type Planned struct {
	Plan  string `json:"plan"`
	Page  int    `json:"page"`
	Index int    `json:"index"`
}

// RevokedLeak is a leak of a credential rotor had already revoked.
type RevokedLeak struct {
	Leak      Leak   `json:"leak"`
	SecretID  string `json:"secretId"`  // ARN of the secret whose version held it
	VersionID string `json:"versionId"` // that version
	RevokedAt string `json:"revokedAt"` // RFC 3339
}

// HeldItem is a secret that is due but waits, and why.
type HeldItem struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Item is one secret to rotate.
type Item struct {
	SecretID           string `json:"secretId"` // ARN
	Name               string `json:"name"`
	Provider           string `json:"provider"`
	Mode               string `json:"mode"`
	GracePeriodSeconds int64  `json:"gracePeriodSeconds"`
	Trigger            string `json:"trigger"`
	Reason             string `json:"reason,omitempty"`
	// CurrentVersionID is the version that was current when resolve
	// planned the item ("" for a secret with no value); create skips the
	// item when it no longer is (another rotation got there first).
	CurrentVersionID string `json:"currentVersionId"`
	// Token is the new version's id, minted by resolve as a UUIDv7 so that
	// a later sweep reads the version's age from its id (ListSecrets
	// gives version ids, not their dates).
	Token string `json:"token"`
	Leak  *Leak  `json:"leak,omitempty"`
	// Overrides says what a leak or a person overrode to rotate now: the
	// secret is paused or outside its window (package schedule).
	Overrides string `json:"overrides,omitempty"`
	// LeakedVersions are the non-current versions whose credentials a leak
	// exposed; expire revokes them (ModeEmergency: besides the previous
	// version; ModeRevoke: only them). Always present, null when none,
	// because the state machine passes it on by path.
	LeakedVersions []string `json:"leakedVersions"`
}

// StepInput is what every Lambda step after resolve receives: ids only.
type StepInput struct {
	// Action selects what the expire function does: expire (default),
	// rollback or cleanup. Other functions refuse any action but their own.
	Action            string `json:"action,omitempty"`
	SecretID          string `json:"secretId"`
	Token             string `json:"token"`
	PreviousVersionID string `json:"previousVersionId,omitempty"`
	Provider          string `json:"provider,omitempty"`
	Mode              string `json:"mode,omitempty"`
	// Versions are the leaked versions expire revokes besides the previous
	// one (emergency) or alone (action revoke).
	Versions []string `json:"versions,omitempty"`
	// PlannedVersionID (create only) is the version resolve saw current.
	// When present, create skips a rotation whose secret moved on since:
	// AWSCURRENT is on another version, or another rotation holds
	// AWSPENDING. Absent for emergency items, which are never skipped.
	PlannedVersionID *string `json:"plannedVersionId,omitempty"`
}

// StepOutput is what every step after resolve returns: ids and an outcome.
type StepOutput struct {
	SecretID string `json:"secretId"`
	Token    string `json:"token"`
	// PreviousVersionID is always present ("" for a secret's first value),
	// because the state machine's paths require it.
	PreviousVersionID string `json:"previousVersionId"`
	// Outcome says what the step did, e.g. "created", "reused", "switched",
	// "already-current", "verified", "revoked", "already-revoked",
	// "nothing-to-expire", "rolled-back", "cleaned-up".
	Outcome string `json:"outcome"`
	// Revoked lists versions whose credentials this step revoked.
	Revoked []string `json:"revoked,omitempty"`
	// Reason says why a create was "skipped".
	Reason string `json:"reason,omitempty"`
	// Master is set by create on a master secret that rotates itself: the
	// state machine then verifies it with the expire function
	// (ActionVerify), never the verify function.
	Master bool `json:"master,omitempty"`
}
