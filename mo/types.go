package mo

import (
	"time"

	"github.com/smsfw/smsfw/mo/action"
)

// The settings of targets and actions live in package action (a leaf the
// policy can name); these are their names here.
type (
	HTTPTarget   = action.HTTPTarget
	EmailTarget  = action.EmailTarget
	ReplyAction  = action.ReplyAction
	Retry        = action.Retry
	Actions      = action.Actions
	Trigger      = action.Trigger
	SecretReader = action.SecretReader
)

// Targets served from the queue.
const (
	TargetHTTP    = action.TargetHTTP
	TargetPull    = action.TargetPull
	TargetEmail   = action.TargetEmail
	TargetWebhook = action.TargetWebhook
	TargetReply   = action.TargetReply
)

// Defaults.
const (
	DefaultWorkers        = action.DefaultWorkers
	DefaultTimeout        = action.DefaultTimeout
	DefaultBackoff        = action.DefaultBackoff
	DefaultMaxBackoff     = action.DefaultMaxBackoff
	DefaultMaxAttempts    = action.DefaultMaxAttempts
	DefaultMaxAge         = action.DefaultMaxAge
	DefaultPerSender      = action.DefaultPerSender
	DefaultPerRoute       = action.DefaultPerRoute
	DefaultPullVisibility = 30 * time.Second
	minTokenLen           = 16
)

// RulePrefix starts the queue's route name of a rule's actions
// ("rule:opt-out"); configured route names cannot hold ':'.
const RulePrefix = "rule:"

// CheckRecipients reports at key (through fail) an empty list of mail
// recipients and each address that does not parse.
func CheckRecipients(key string, to []string, fail func(key, format string, args ...any)) {
	action.CheckRecipients(key, to, fail)
}
