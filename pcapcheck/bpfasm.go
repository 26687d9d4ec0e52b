package pcapcheck

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// program is a tiny assembler for classic BPF with named labels: x/net/bpf
// wants relative skip counts, which are error-prone to count by hand.
type program struct {
	insns  []bpf.Instruction
	fixups []fixup
	labels map[string]int
}

// fixup remembers a jump whose target is a label, to resolve at the end.
type fixup struct {
	at     int
	target string
	kind   int // jumpAlways, jumpTrue
}

const (
	jumpAlways = iota
	jumpTrue
)

func (p *program) emit(i bpf.Instruction) { p.insns = append(p.insns, i) }

func (p *program) label(name string) {
	if p.labels == nil {
		p.labels = map[string]int{}
	}
	p.labels[name] = len(p.insns)
}

// jeq jumps to target when A == val and falls through otherwise.
func (p *program) jeq(val uint32, target string) {
	p.fixups = append(p.fixups, fixup{len(p.insns), target, jumpTrue})
	p.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: val})
}

// jgeConst jumps to target when A >= val.
func (p *program) jgeConst(val uint32, target string) {
	p.fixups = append(p.fixups, fixup{len(p.insns), target, jumpTrue})
	p.emit(bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: val})
}

func (p *program) jump(target string) {
	p.fixups = append(p.fixups, fixup{len(p.insns), target, jumpAlways})
	p.emit(bpf.Jump{})
}

// bitTest accepts when bit A (0..31) of mask is set and rejects otherwise.
func (p *program) bitTest(mask uint32) {
	p.emit(bpf.TAX{})
	p.emit(bpf.LoadConstant{Dst: bpf.RegA, Val: 1})
	p.emit(bpf.ALUOpX{Op: bpf.ALUOpShiftLeft})
	p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
	p.fixups = append(p.fixups, fixup{len(p.insns), "reject", jumpTrue})
	p.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0})
	p.jump("accept")
}

func (p *program) assemble() ([]bpf.RawInstruction, error) {
	for _, f := range p.fixups {
		to, ok := p.labels[f.target]
		if !ok {
			return nil, fmt.Errorf("bpf: undefined label %q", f.target)
		}
		skip := to - f.at - 1
		if skip < 0 {
			return nil, fmt.Errorf("bpf: backward jump to %q", f.target)
		}
		switch f.kind {
		case jumpAlways:
			p.insns[f.at] = bpf.Jump{Skip: uint32(skip)}
		case jumpTrue:
			j := p.insns[f.at].(bpf.JumpIf)
			if skip > 255 {
				return nil, fmt.Errorf("bpf: conditional jump to %q too far (%d)", f.target, skip)
			}
			j.SkipTrue = uint8(skip)
			p.insns[f.at] = j
		}
	}
	raw, err := bpf.Assemble(p.insns)
	if err != nil {
		return nil, fmt.Errorf("bpf: assemble: %w", err)
	}
	return raw, nil
}
