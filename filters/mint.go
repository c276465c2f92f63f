package filters

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/request"
)

// maxInspectedBody bounds the body of a Secret the scope reads: the apiserver
// itself refuses request bodies over 3 MiB.
const maxInspectedBody = 3 << 20

// secretDecoder reads a Secret in any encoding a client may send it (JSON, YAML,
// protobuf).
func secretDecoder() runtime.Decoder {
	s := runtime.NewScheme()
	_ = corev1.AddToScheme(s) // registering a built-in group's types cannot fail
	return serializer.NewCodecFactory(s).UniversalDeserializer()
}

// createsTokenSecret says whether r creates a Secret of type
// kubernetes.io/service-account-token, which the cluster fills with a token of
// the ServiceAccount it names. It reads the body (bounded) and leaves it in r for
// the proxy. A body it cannot read as a Secret is the cluster's to refuse, so it
// says no; a body over the bound is refused here, since it cannot be checked.
func createsTokenSecret(r *http.Request, info *request.Info, dec runtime.Decoder) (bool, error) {
	if info.APIGroup != "" || info.Resource != "secrets" || info.Subresource != "" || info.Verb != "create" || r.Body == nil {
		return false, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxInspectedBody+1))
	if err != nil {
		var own *kubegate.Error
		if errors.As(err, &own) {
			return false, own // a body that came too slowly says so itself
		}
		return false, kubegate.Errorf(kubegate.EInvalid, "reading request body: %v", err)
	}
	if len(body) > maxInspectedBody {
		return false, kubegate.Errorf(kubegate.ETooLarge, "a Secret created with a scoped credential may be at most %d bytes", maxInspectedBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	obj, _, err := dec.Decode(body, &schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, nil)
	if err != nil {
		return false, nil //nolint:nilerr // not a Secret we can read: the cluster answers it
	}
	s, ok := obj.(*corev1.Secret)
	return ok && s.Type == corev1.SecretTypeServiceAccountToken, nil
}
