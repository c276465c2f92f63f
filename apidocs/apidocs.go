// Package apidocs serves the gateway's OpenAPI document and Swagger UI at
// /swagger/index.html, as KubeCube does.
package apidocs

import (
	_ "embed"
	"io/fs"
	"net/http"

	swaggerFiles "github.com/swaggo/files/v2"
	"sigs.k8s.io/yaml"
)

//go:embed openapi.yaml
var openAPIYAML []byte

// initializer points Swagger UI at our document instead of the petstore.
const initializer = `window.onload = function() {
  window.ui = SwaggerUIBundle({
    url: "doc.json",
    dom_id: '#swagger-ui',
    deepLinking: true,
    // An authorized token stays in the page's memory: never in localStorage,
    // where any script on the gateway's origin could read it later.
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
};
`

// Document returns the OpenAPI document as JSON.
func Document() ([]byte, error) { return yaml.YAMLToJSON(openAPIYAML) }

// Handler serves /swagger/: Swagger UI (index.html and its assets) and the
// document as doc.json and doc.yaml.
func Handler() (http.Handler, error) {
	doc, err := Document()
	if err != nil {
		return nil, err
	}
	index, err := fs.ReadFile(swaggerFiles.FS, "index.html")
	if err != nil {
		return nil, err
	}
	serve := func(contentType string, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentType)
			_, _ = w.Write(body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/swagger/doc.json", serve("application/json", doc))
	mux.Handle("/swagger/doc.yaml", serve("application/yaml", openAPIYAML))
	mux.Handle("/swagger/swagger-initializer.js", serve("text/javascript; charset=utf-8", []byte(initializer)))
	// Served directly: http.FileServer answers ".../index.html" with a redirect.
	mux.Handle("/swagger/index.html", serve("text/html; charset=utf-8", index))
	mux.Handle("/swagger/{$}", serve("text/html; charset=utf-8", index))
	mux.Handle("/swagger/", http.StripPrefix("/swagger/", http.FileServerFS(swaggerFiles.FS)))
	return withPageHeaders(mux), nil
}

// CSP is Swagger UI's Content-Security-Policy: its own scripts only (no inline
// script), requests ("Try it out") to this origin only, and never framed, since
// the page acts with the token a user pastes into it. Inline styles stay: Swagger
// UI's React components set them.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func withPageHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", CSP)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
