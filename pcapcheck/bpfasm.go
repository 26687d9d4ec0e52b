package pcapcheck

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// program is a tiny assembler for classic BPF with named labels: x/net/bpf
// wants relative skip counts, which are error-prone to count by hand. Jumps
// go forward only, as classic BPF requires.
type program struct {
	insns  []bpf.Instruction
	fixups []fixup
	labels map[string]int
	seq    int
}

// fixup remembers a jump whose target is a label, to resolve at the end.
type fixup struct {
	at     int
	target string
	kind   int // jumpAlways, jumpTrue, jumpFalse
}

const (
	jumpAlways = iota
	jumpTrue
	jumpFalse
)

func (p *program) emit(i bpf.Instruction) { p.insns = append(p.insns, i) }

func (p *program) label(name string) {
	if p.labels == nil {
		p.labels = map[string]int{}
	}
	p.labels[name] = len(p.insns)
}

// newLabel returns a label name not used before, for local control flow.
func (p *program) newLabel(prefix string) string {
	p.seq++
	return fmt.Sprintf("%s.%d", prefix, p.seq)
}

// jumpIf emits a conditional jump to target, taken when the test holds
// (kind jumpTrue) or when it does not (jumpFalse); the other way falls
// through.
func (p *program) jumpIf(cond bpf.JumpTest, val uint32, target string, kind int) {
	p.fixups = append(p.fixups, fixup{len(p.insns), target, kind})
	p.emit(bpf.JumpIf{Cond: cond, Val: val})
}

// jeq jumps to target when A == val and falls through otherwise.
func (p *program) jeq(val uint32, target string) { p.jumpIf(bpf.JumpEqual, val, target, jumpTrue) }

// jne jumps to target when A != val and falls through otherwise.
func (p *program) jne(val uint32, target string) { p.jumpIf(bpf.JumpEqual, val, target, jumpFalse) }

// jset jumps to target when A & val != 0.
func (p *program) jset(val uint32, target string) { p.jumpIf(bpf.JumpBitsSet, val, target, jumpTrue) }

// jgeConst jumps to target when A >= val.
func (p *program) jgeConst(val uint32, target string) {
	p.jumpIf(bpf.JumpGreaterOrEqual, val, target, jumpTrue)
}

func (p *program) jump(target string) {
	p.fixups = append(p.fixups, fixup{len(p.insns), target, jumpAlways})
	p.emit(bpf.Jump{})
}

// bitTest jumps to hit when bit A (0..31) of mask is set, else to miss.
// It clobbers X.
func (p *program) bitTest(mask uint32, hit, miss string) {
	p.emit(bpf.TAX{})
	p.emit(bpf.LoadConstant{Dst: bpf.RegA, Val: 1})
	p.emit(bpf.ALUOpX{Op: bpf.ALUOpShiftLeft})
	p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
	p.jeq(0, miss)
	p.jump(hit)
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
		case jumpTrue, jumpFalse:
			j := p.insns[f.at].(bpf.JumpIf)
			if skip > 255 {
				return nil, fmt.Errorf("bpf: conditional jump to %q too far (%d)", f.target, skip)
			}
			if f.kind == jumpTrue {
				j.SkipTrue = uint8(skip)
			} else {
				j.SkipFalse = uint8(skip)
			}
			p.insns[f.at] = j
		}
	}
	if len(p.insns) > maxInsns {
		return nil, fmt.Errorf("bpf: program of %d instructions exceeds the kernel's limit of %d", len(p.insns), maxInsns)
	}
	raw, err := bpf.Assemble(p.insns)
	if err != nil {
		return nil, fmt.Errorf("bpf: assemble: %w", err)
	}
	return raw, nil
}

// maxInsns is BPF_MAXINSNS, the most instructions a classic BPF socket
// filter may have.
const maxInsns = 4096
