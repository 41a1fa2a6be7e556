package sqlite

import "aduan/internal/seal"

// WithKeyring returns a store on the same database sealing under k, as a
// process restarted with a new configuration would be.
func (s *Store) WithKeyring(k *seal.Keyring) *Store {
	c := *s
	c.keys = k
	return &c
}
