package config

// WithDirectorServices returns a copy of f whose director section holds
// svcs: the agent's view of the file, with the reals its checks hold at
// weight 0 or out.
func (f *File) WithDirectorServices(svcs []Service) *File {
	g := *f
	g.director = &Director{Services: svcs}
	return &g
}

// Teardown is the file that, applied, deletes what f set up: the sections
// f has, empty (`on_stop: teardown`).
func (f *File) Teardown() *File {
	g := &File{name: f.name}
	if f.realServer != nil {
		g.realServer = &RealServer{iptables: f.realServer.iptables}
	}
	if f.director != nil {
		g.director = &Director{}
	}
	return g
}
