package smstore

import (
	"context"
	"maps"
	"slices"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// begin checks the context, takes the lock, reads the clock and purges the
// secrets whose deletion date has passed. The caller must unlock.
func (s *Store) begin(ctx context.Context) (time.Time, error) {
	if err := ctxErr(ctx); err != nil {
		return time.Time{}, err
	}
	s.mu.Lock()
	now := s.clock()
	s.purge(now)
	return now, nil
}

// CreateSecret creates a secret, and its first version (labelled AWSCURRENT)
// when SecretString or SecretBinary is given.
func (s *Store) CreateSecret(ctx context.Context, in *sm.CreateSecretInput, _ ...func(*sm.Options)) (*sm.CreateSecretOutput, error) {
	if in == nil {
		in = &sm.CreateSecretInput{}
	}
	name, err := validName(in.Name)
	if err != nil {
		return nil, err
	}
	if err := validToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	str, bin, err := validValue(in.SecretString, in.SecretBinary, false)
	if err != nil {
		return nil, err
	}
	if err := validDescription(in.Description); err != nil {
		return nil, err
	}
	if in.KmsKeyId != nil && (*in.KmsKeyId == "" || len(*in.KmsKeyId) > maxKmsKeyIDLen) {
		return nil, invalidParam("KmsKeyId must be 1-%d characters.", maxKmsKeyIDLen)
	}
	if len(in.AddReplicaRegions) > 0 {
		return nil, invalidParam("This Secrets Manager model does not support replication (AddReplicaRegions).")
	}
	if in.Type != nil {
		return nil, invalidParam("This Secrets Manager model does not support managed external secrets (Type).")
	}
	tags := map[string]string{}
	if err := validTags(tags, in.Tags); err != nil {
		return nil, err
	}
	if len(tags) > maxTags {
		return nil, limitExceeded("A secret can have at most %d tags.", maxTags)
	}
	hasValue := str != nil || bin != nil

	now, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()

	if old := s.secrets[name]; old != nil {
		if old.deleted != nil {
			return nil, invalidRequest("You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		// The API reference documents ClientRequestToken idempotency for
		// CreateSecret too: a retry with the same token and the same value
		// is ignored. Guess: the description, tags and key of the retry
		// are not compared.
		if in.ClientRequestToken != nil && hasValue {
			if v := old.version(*in.ClientRequestToken); v != nil && v.sameValue(str, bin) {
				return &sm.CreateSecretOutput{ARN: ptr(old.arn), Name: ptr(old.name), VersionId: ptr(v.id)}, nil
			}
		}
		return nil, resourceExists("The operation failed because the secret %s already exists.", name)
	}

	arn, err := s.newARN(name)
	if err != nil {
		return nil, err
	}
	sec := &secret{
		name:        name,
		arn:         arn,
		description: cloneStr(in.Description),
		kmsKeyID:    cloneStr(in.KmsKeyId),
		tags:        tags,
		created:     now,
		lastChanged: now,
	}
	out := &sm.CreateSecretOutput{ARN: ptr(arn), Name: ptr(name)}
	if hasValue {
		id := ""
		if in.ClientRequestToken != nil {
			id = *in.ClientRequestToken
		} else if id, err = s.newVersionID(nil); err != nil {
			return nil, err
		}
		sec.versions = []*version{{id: id, str: str, bin: bin, stages: []string{stageCurrent}, created: now}}
		out.VersionId = ptr(id)
	}
	s.add(sec)
	return out, nil
}

// DescribeSecret returns a secret's metadata, also while it is scheduled for
// deletion. VersionIdsToStages lists only versions that have a label.
func (s *Store) DescribeSecret(ctx context.Context, in *sm.DescribeSecretInput, _ ...func(*sm.Options)) (*sm.DescribeSecretOutput, error) {
	if in == nil {
		in = &sm.DescribeSecretInput{}
	}
	id, err := validSecretID(in.SecretId)
	if err != nil {
		return nil, err
	}
	if _, err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	sec, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	return &sm.DescribeSecretOutput{
		ARN:                ptr(sec.arn),
		Name:               ptr(sec.name),
		Description:        cloneStr(sec.description),
		KmsKeyId:           cloneStr(sec.kmsKeyID),
		Tags:               sec.tagList(),
		CreatedDate:        ptr(sec.created),
		LastChangedDate:    ptr(sec.lastChanged),
		LastAccessedDate:   cloneTime(sec.lastAccessed),
		DeletedDate:        cloneTime(sec.deleted),
		VersionIdsToStages: sec.stagesMap(),
	}, nil
}

// GetSecretValue returns the value of one version: the one with VersionId,
// else the one with VersionStage, else the AWSCURRENT one. It records the
// access date (at day resolution) on the secret and on the version.
func (s *Store) GetSecretValue(ctx context.Context, in *sm.GetSecretValueInput, _ ...func(*sm.Options)) (*sm.GetSecretValueOutput, error) {
	if in == nil {
		in = &sm.GetSecretValueInput{}
	}
	id, err := validSecretID(in.SecretId)
	if err != nil {
		return nil, err
	}
	if in.VersionStage != nil {
		if err := validLabel("VersionStage", *in.VersionStage); err != nil {
			return nil, err
		}
	}
	now, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	sec, err := s.live(id)
	if err != nil {
		return nil, err
	}
	var v *version
	if in.VersionId != nil {
		if v = sec.version(*in.VersionId); v == nil {
			return nil, notFound("Secrets Manager can't find the specified secret value for VersionId: %s", *in.VersionId)
		}
		// The API reference says only that both "must refer to the same
		// secret version". Guess: InvalidRequestException with the message
		// AWS is reported to send (the version exists; the request does not
		// fit its state), rather than InvalidParameterException.
		if in.VersionStage != nil && !v.has(*in.VersionStage) {
			return nil, invalidRequest("You provided a VersionStage that is not associated to the provided VersionId.")
		}
	} else {
		label := stageCurrent
		if in.VersionStage != nil {
			label = *in.VersionStage
		}
		if v = sec.holder(label); v == nil {
			return nil, notFound("Secrets Manager can't find the specified secret value for staging label: %s", label)
		}
	}
	d := day(now)
	if sec.lastAccessed == nil || !sec.lastAccessed.Equal(d) || v.lastAccessed == nil || !v.lastAccessed.Equal(d) {
		sec.lastAccessed = ptr(d)
		v.lastAccessed = ptr(d)
		s.touch(sec)
	}
	return &sm.GetSecretValueOutput{
		ARN:           ptr(sec.arn),
		Name:          ptr(sec.name),
		VersionId:     ptr(v.id),
		SecretString:  cloneStr(v.str),
		SecretBinary:  slices.Clone(v.bin),
		VersionStages: cloneStages(v.stages),
		CreatedDate:   ptr(v.created),
	}, nil
}

// PutSecretValue creates a version. Without VersionStages it gets AWSCURRENT;
// with VersionStages it gets exactly those labels, each removed from the
// version that had it. Whenever AWSCURRENT moves, AWSPREVIOUS moves to the
// version it left.
func (s *Store) PutSecretValue(ctx context.Context, in *sm.PutSecretValueInput, _ ...func(*sm.Options)) (*sm.PutSecretValueOutput, error) {
	if in == nil {
		in = &sm.PutSecretValueInput{}
	}
	id, err := validSecretID(in.SecretId)
	if err != nil {
		return nil, err
	}
	if err := validToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	str, bin, err := validValue(in.SecretString, in.SecretBinary, true)
	if err != nil {
		return nil, err
	}
	stages := []string{stageCurrent}
	if in.VersionStages != nil {
		if stages, err = validStages(in.VersionStages); err != nil {
			return nil, err
		}
	}
	// RotationToken only proves a caller's identity to AWS; it is ignored.

	now, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	sec, err := s.live(id)
	if err != nil {
		return nil, err
	}

	vid := ""
	if in.ClientRequestToken != nil {
		vid = *in.ClientRequestToken
		if v := sec.version(vid); v != nil {
			if !v.sameValue(str, bin) {
				return nil, resourceExists("You can't modify an existing version, you can only create new versions.")
			}
			// Same token, same value: the request is ignored.
			return &sm.PutSecretValueOutput{
				ARN: ptr(sec.arn), Name: ptr(sec.name), VersionId: ptr(v.id), VersionStages: cloneStages(v.stages),
			}, nil
		}
	} else if vid, err = s.newVersionID(sec); err != nil {
		return nil, err
	}

	// "If this operation creates the first version for the secret, then
	// Secrets Manager automatically attaches the staging label AWSCURRENT
	// to it" - also when VersionStages does not name it.
	if len(sec.versions) == 0 && !slices.Contains(stages, stageCurrent) {
		stages = append(slices.Clone(stages), stageCurrent)
		slices.Sort(stages)
		if len(stages) > maxLabelsPerVersion {
			return nil, limitExceeded("A version can have at most %d staging labels.", maxLabelsPerVersion)
		}
	}

	oldCurrent := sec.holder(stageCurrent)
	nv := &version{id: vid, str: str, bin: bin, created: now}
	sec.versions = append(sec.versions, nv)
	for _, l := range stages {
		sec.moveLabel(l, nv)
	}
	// Guess: when the request names AWSPREVIOUS itself, that explicit label
	// wins over the automatic move.
	if slices.Contains(stages, stageCurrent) && oldCurrent != nil && !slices.Contains(stages, stagePrevious) {
		sec.moveLabel(stagePrevious, oldCurrent)
	}
	sec.pruneVersions()
	sec.lastChanged = now
	s.touch(sec)
	return &sm.PutSecretValueOutput{
		ARN: ptr(sec.arn), Name: ptr(sec.name), VersionId: ptr(nv.id), VersionStages: cloneStages(nv.stages),
	}, nil
}

// UpdateSecretVersionStage moves a staging label to MoveToVersionId and/or
// removes it from RemoveFromVersionId.
func (s *Store) UpdateSecretVersionStage(ctx context.Context, in *sm.UpdateSecretVersionStageInput, _ ...func(*sm.Options)) (*sm.UpdateSecretVersionStageOutput, error) {
	if in == nil {
		in = &sm.UpdateSecretVersionStageInput{}
	}
	id, err := validSecretID(in.SecretId)
	if err != nil {
		return nil, err
	}
	if in.VersionStage == nil {
		return nil, invalidParam("You must provide a VersionStage.")
	}
	label := *in.VersionStage
	if err := validLabel("VersionStage", label); err != nil {
		return nil, err
	}
	if in.MoveToVersionId == nil && in.RemoveFromVersionId == nil {
		return nil, invalidParam("You must specify MoveToVersionId, RemoveFromVersionId, or both.")
	}

	now, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	sec, err := s.live(id)
	if err != nil {
		return nil, err
	}
	out := &sm.UpdateSecretVersionStageOutput{ARN: ptr(sec.arn), Name: ptr(sec.name)}

	// Guess (the brief's choice, not documented): a version id that names no
	// version is ResourceNotFoundException.
	var moveTo, removeFrom *version
	if in.MoveToVersionId != nil {
		if moveTo = sec.version(*in.MoveToVersionId); moveTo == nil {
			return nil, notFound("Secrets Manager can't find the specified secret version: version %s not found.", *in.MoveToVersionId)
		}
	}
	if in.RemoveFromVersionId != nil {
		if removeFrom = sec.version(*in.RemoveFromVersionId); removeFrom == nil {
			return nil, notFound("Secrets Manager can't find the specified secret version: version %s not found.", *in.RemoveFromVersionId)
		}
	}
	holder := sec.holder(label)
	if removeFrom != nil && removeFrom != holder {
		return nil, invalidParam("The staging label %s is not attached to version %s, so it can't be removed from it.", label, removeFrom.id)
	}

	if moveTo == nil { // remove only; removeFrom has the label
		if label == stageCurrent {
			return nil, invalidParam("You can't remove the staging label AWSCURRENT from version %s without moving it to another version with MoveToVersionId.", removeFrom.id)
		}
		removeFrom.remove(label)
		sec.pruneVersions()
		sec.lastChanged = now
		s.touch(sec)
		return out, nil
	}
	if holder == moveTo {
		// Already there (RemoveFromVersionId, if given, names this same
		// version): nothing to do. Guess: LastChangedDate is not touched.
		return out, nil
	}
	if holder != nil && removeFrom == nil {
		return nil, invalidParam("The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", label, holder.id)
	}
	grow := 1
	if label == stageCurrent && holder != nil && moveTo.has(stagePrevious) {
		grow = 0 // AWSPREVIOUS leaves moveTo for the version AWSCURRENT leaves
	}
	if len(moveTo.stages)+grow > maxLabelsPerVersion {
		return nil, limitExceeded("Version %s already has %d staging labels, the most a version can have.", moveTo.id, len(moveTo.stages))
	}
	sec.moveLabel(label, moveTo)
	if label == stageCurrent && holder != nil {
		sec.moveLabel(stagePrevious, holder)
	}
	sec.pruneVersions()
	sec.lastChanged = now
	s.touch(sec)
	return out, nil
}

// TagResource adds tags to a secret, overwriting the values of keys it has.
func (s *Store) TagResource(ctx context.Context, in *sm.TagResourceInput, _ ...func(*sm.Options)) (*sm.TagResourceOutput, error) {
	if in == nil {
		in = &sm.TagResourceInput{}
	}
	id, err := validSecretID(in.SecretId)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, invalidParam("You must provide at least one tag.")
	}
	add := map[string]string{}
	if err := validTags(add, in.Tags); err != nil {
		return nil, err
	}
	now, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	sec, err := s.live(id)
	if err != nil {
		return nil, err
	}
	merged := maps.Clone(sec.tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, add)
	if len(merged) > maxTags {
		return nil, limitExceeded("A secret can have at most %d tags.", maxTags)
	}
	sec.tags = merged
	sec.lastChanged = now
	s.touch(sec)
	return &sm.TagResourceOutput{}, nil
}

// UntagResource removes tags by key; keys the secret does not have are
// ignored. Guess: like TagResource it is refused on a secret scheduled for
// deletion (the API reference lists InvalidRequestException for both).
func (s *Store) UntagResource(ctx context.Context, in *sm.UntagResourceInput, _ ...func(*sm.Options)) (*sm.UntagResourceOutput, error) {
	if in == nil {
		in = &sm.UntagResourceInput{}
	}
	id, err := validSecretID(in.SecretId)
	if err != nil {
		return nil, err
	}
	if len(in.TagKeys) == 0 {
		return nil, invalidParam("You must provide at least one tag key.")
	}
	for _, k := range in.TagKeys {
		if k == "" || len(k) > maxTagKeyLen {
			return nil, invalidParam("Tag keys must be 1-%d characters.", maxTagKeyLen)
		}
	}
	now, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	sec, err := s.live(id)
	if err != nil {
		return nil, err
	}
	for _, k := range in.TagKeys {
		delete(sec.tags, k)
	}
	sec.lastChanged = now
	s.touch(sec)
	return &sm.UntagResourceOutput{}, nil
}

// DeleteSecret schedules a secret for deletion after a recovery window (7 to
// 30 days, default 30), or with ForceDeleteWithoutRecovery deletes it at once.
func (s *Store) DeleteSecret(ctx context.Context, in *sm.DeleteSecretInput, _ ...func(*sm.Options)) (*sm.DeleteSecretOutput, error) {
	if in == nil {
		in = &sm.DeleteSecretInput{}
	}
	id, err := validSecretID(in.SecretId)
	if err != nil {
		return nil, err
	}
	force := in.ForceDeleteWithoutRecovery != nil && *in.ForceDeleteWithoutRecovery
	days := int64(defaultRecoveryDays)
	if in.RecoveryWindowInDays != nil {
		if force {
			return nil, invalidParam("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
		}
		days = *in.RecoveryWindowInDays
		if days < minRecoveryDays || days > maxRecoveryDays {
			return nil, invalidParam("The RecoveryWindowInDays value must be between %d and %d days (inclusive).", minRecoveryDays, maxRecoveryDays)
		}
	}
	now, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	sec, err := s.lookup(id)
	if err != nil {
		if !force {
			return nil, err
		}
		// "If you forcibly delete an already deleted or nonexistent secret,
		// the operation does not return ResourceNotFoundException."
		// Guess: the reply echoes the id as Name (or as ARN, and the part
		// after "secret:" as Name, when it is an ARN of this store).
		out := &sm.DeleteSecretOutput{Name: ptr(id), DeletionDate: ptr(now)}
		if name, ok := cutARN(id, s.arnPrefix()); ok {
			out.ARN, out.Name = ptr(id), ptr(name)
		}
		return out, nil
	}
	if force {
		s.remove(sec)
		return &sm.DeleteSecretOutput{ARN: ptr(sec.arn), Name: ptr(sec.name), DeletionDate: ptr(now)}, nil
	}
	if sec.deleted != nil {
		return nil, errMarkedForDeletion()
	}
	// The API reference describes DescribeSecret's DeletedDate as "the date
	// the secret is scheduled for deletion"; this model keeps one date, the
	// end of the recovery window, and reports it both as DeleteSecret's
	// DeletionDate and as DeletedDate. Guess: AWS may report the time of
	// the DeleteSecret call as DeletedDate instead.
	when := now.Add(time.Duration(days) * 24 * time.Hour)
	sec.deleted = ptr(when)
	sec.lastChanged = now
	s.scheduled(sec)
	s.touch(sec)
	return &sm.DeleteSecretOutput{ARN: ptr(sec.arn), Name: ptr(sec.name), DeletionDate: ptr(when)}, nil
}

func cutARN(id, prefix string) (string, bool) {
	if len(id) > len(prefix) && id[:len(prefix)] == prefix {
		return id[len(prefix):], true
	}
	return "", false
}

// RestoreSecret cancels a scheduled deletion. On a secret that is not
// scheduled for deletion it succeeds and changes nothing.
func (s *Store) RestoreSecret(ctx context.Context, in *sm.RestoreSecretInput, _ ...func(*sm.Options)) (*sm.RestoreSecretOutput, error) {
	if in == nil {
		in = &sm.RestoreSecretInput{}
	}
	id, err := validSecretID(in.SecretId)
	if err != nil {
		return nil, err
	}
	now, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	sec, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	if sec.deleted != nil {
		sec.deleted = nil
		sec.lastChanged = now
		s.touch(sec)
	}
	return &sm.RestoreSecretOutput{ARN: ptr(sec.arn), Name: ptr(sec.name)}, nil
}
