package bot

import "aduan/dialog"

// Live is what of a Service's configuration may change while it runs.
type Live struct {
	Officers      []Officer
	Book          *dialog.Book // nil keeps the flows
	Clocks        Clocks       // zero means DefaultClocks
	Limits        Limits
	SupervisorPIN string
}

// Reload makes the service use l from its next batch and its next clock
// run on: a new officer is eligible for the next ticket, a removed one is
// not. It waits for the batch and the clock run under way, which finish
// with the settings they began with; meanwhile no other begins.
func (s *Service) Reload(l Live) {
	if l.Clocks == (Clocks{}) {
		l.Clocks = DefaultClocks
	}
	s.live.Lock()
	defer s.live.Unlock()
	if l.Book != nil {
		s.cfg.Book = l.Book
	}
	s.cfg.Officers, s.staff = l.Officers, newStaff(l.Officers, s.cfg.Book)
	s.cfg.Clocks, s.cfg.Limits, s.cfg.SupervisorPIN = l.Clocks, l.Limits, l.SupervisorPIN
}

// Supervisors returns the supervisors the service has now.
func (s *Service) Supervisors() []Officer {
	s.live.RLock()
	defer s.live.RUnlock()
	return s.staff.Supervisors()
}

// IsStaff reports whether addr is an officer's or supervisor's number now.
func (s *Service) IsStaff(addr string) bool {
	s.live.RLock()
	defer s.live.RUnlock()
	_, ok := s.staff.ByPhone(addr)
	return ok
}
