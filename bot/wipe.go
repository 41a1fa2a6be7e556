package bot

import "context"

// Wiper clears a chat from a person's phone where the channel can: a
// Sender implements it when its channel lets the service delete its own
// messages (WhatsApp does; SMS does not). Check with a type assertion:
//
//	if w, ok := sender.(bot.Wiper); ok { ... }
type Wiper interface {
	// Wipe deletes "for everyone" each message the service sent to `to`,
	// given by the provider IDs the outbox recorded, and turns on
	// disappearing messages in the chat where possible. It tries every ID
	// even when some fail, and may be called again with the same IDs.
	// Errors say whether to retry, as Sender's do: KindOf(err) is
	// Temporary when a later attempt may succeed.
	Wipe(ctx context.Context, to string, providerIDs []string) error
}
