// Computes the SidecarSet hash vectors of tests/unit/sidecarset/test_hashes.py with Go encoding/json, as
// pkg/control/sidecarcontrol/hash.go does (encodeSidecarSetV1beta1):
//   cd tests/unit/sidecarset/gohash && go run . < vectors-in.json > vectors-go.json
package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
)

type ResourceList map[ResourceName]Quantity

// Quantity: the tests feed canonical quantities, so the text is what resource.Quantity would write.
type Quantity struct{ s string }

func (q Quantity) MarshalJSON() ([]byte, error) {
	if q.s == "" {
		return []byte(`"0"`), nil
	}
	return json.Marshal(q.s)
}
func (q *Quantity) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &q.s) }

// IntOrString as k8s.io/apimachinery/pkg/util/intstr.
type IntOrString struct {
	Type   int
	IntVal int32
	StrVal string
}

func (i *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		i.Type = 1
		return json.Unmarshal(b, &i.StrVal)
	}
	return json.Unmarshal(b, &i.IntVal)
}
func (i IntOrString) MarshalJSON() ([]byte, error) {
	if i.Type == 1 {
		return json.Marshal(i.StrVal)
	}
	return json.Marshal(i.IntVal)
}

const alphanums = "bcdfghjklmnpqrstvwxz2456789"

func safeEncode(s string) string {
	r := make([]byte, len(s))
	for i, b := range []rune(s) {
		r[i] = alphanums[(int(b) % len(alphanums))]
	}
	return string(r)
}

type Spec struct {
	InitContainers []SidecarContainer `json:"initContainers,omitempty"`
	Containers     []SidecarContainer `json:"containers,omitempty"`
}

func encode(s *Spec) string {
	m := map[string]interface{}{"containers": s.Containers}
	native := false
	for _, c := range s.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == "Always" {
			native = true
		}
	}
	if native {
		m["initContainers"] = s.InitContainers
	}
	data, _ := json.Marshal(m)
	return string(data)
}

func hash(data string) string { return safeEncode(fmt.Sprintf("%x", sha256.Sum256([]byte(data)))) }

func main() {
	var specs []Spec
	if err := json.NewDecoder(os.Stdin).Decode(&specs); err != nil {
		panic(err)
	}
	var out []map[string]string
	for i := range specs {
		s := &specs[i]
		enc := encode(s)
		for j := range s.Containers {
			s.Containers[j].Image = ""
		}
		for j := range s.InitContainers {
			s.InitContainers[j].Image = ""
		}
		out = append(out, map[string]string{"encoded": enc, "hash": hash(enc), "withoutImage": hash(encode(s))})
	}
	b, _ := json.MarshalIndent(out, "", " ")
	fmt.Println(string(b))
}
