package translate

import (
	"google.golang.org/protobuf/reflect/protoreflect"
)

// perturbation sets one scalar field of a decoded spec to a value chosen
// by the fuzzer. Byte-level mutations of encoded protos rarely produce the
// targeted strings and numbers (a regex missing a bracket, a negative
// duration) that break translations; this gives the fuzzer direct control
// over them.
type perturbation struct {
	str     string
	strPick uint16
	num     int64
	numPick uint16
}

type setter struct {
	kind protoreflect.Kind
	set  func(protoreflect.Value)
}

func (p perturbation) apply(msgs ...protoreflect.Message) {
	var strs, nums []setter
	for _, m := range msgs {
		collectSetters(m, &strs, &nums)
	}
	if len(strs) > 0 {
		strs[int(p.strPick)%len(strs)].set(protoreflect.ValueOfString(p.str))
	}
	if len(nums) > 0 {
		s := nums[int(p.numPick)%len(nums)]
		s.set(numberValue(s.kind, p.num))
	}
}

func numberValue(k protoreflect.Kind, n int64) protoreflect.Value {
	switch k {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(n%2 != 0)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(int32(n)))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(n))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(n) / 7)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(n) / 7)
	}
	return protoreflect.ValueOfInt64(n)
}

// collectSetters lists setters for every set scalar field of m, its lists
// and map values, recursively.
func collectSetters(m protoreflect.Message, strs, nums *[]setter) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				if fd.Kind() == protoreflect.MessageKind {
					collectSetters(l.Get(i).Message(), strs, nums)
					continue
				}
				i := i
				add(fd.Kind(), func(nv protoreflect.Value) { l.Set(i, nv) }, strs, nums)
			}
		case fd.IsMap():
			mp := v.Map()
			mp.Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					collectSetters(mv.Message(), strs, nums)
				} else {
					add(fd.MapValue().Kind(), func(nv protoreflect.Value) { mp.Set(k, nv) }, strs, nums)
				}
				return true
			})
		case fd.Kind() == protoreflect.MessageKind:
			collectSetters(v.Message(), strs, nums)
		default:
			add(fd.Kind(), func(nv protoreflect.Value) { m.Set(fd, nv) }, strs, nums)
		}
		return true
	})
}

func add(k protoreflect.Kind, set func(protoreflect.Value), strs, nums *[]setter) {
	switch k {
	case protoreflect.StringKind:
		*strs = append(*strs, setter{k, set})
	case protoreflect.BytesKind, protoreflect.GroupKind:
	default:
		*nums = append(*nums, setter{k, set})
	}
}
