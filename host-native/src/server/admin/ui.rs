//! The Admin UI's files at `/admin/`: the built UI that `@socket.io/admin-ui` ships
//! (`ui/dist/`, without source maps), embedded at build time from the checksum-pinned
//! npm tarball (see `build.rs`), served as they are.
//!
//! The UI asks for its server's URL at login: give it this server's (for example
//! `http://127.0.0.1:3000`); it connects to namespace `/admin` there. Its page links
//! Google's Roboto font and the Material Design icons from public CDNs; without
//! internet access the UI works with the browser's fonts and without icon glyphs.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

include!(concat!(env!("OUT_DIR"), "/admin_ui.rs"));

/// The version of the embedded UI.
pub(crate) const ADMIN_UI_VERSION: &str = env!("CROSSCAST_ADMIN_UI_VERSION");

/// The routes `/admin` (a redirect), `/admin/` and `/admin/{file}`.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/", get(|| async { file("index.html") }))
        .route(
            "/admin/{*path}",
            get(|Path(path): Path<String>| async move { file(&path) }),
        )
}

fn file(path: &str) -> Response {
    let Some((_, bytes)) = ADMIN_UI_FILES.iter().find(|(p, _)| *p == path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    // The built files but the page have a content hash in their name.
    let cache = if path == "index.html" {
        "no-cache"
    } else {
        "public, max-age=86400"
    };
    (
        [
            (header::CONTENT_TYPE, content_type(path)),
            (header::CACHE_CONTROL, cache),
        ],
        *bytes,
    )
        .into_response()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_ui_is_the_built_page_with_its_scripts_and_no_source_maps() {
        let names: Vec<&str> = ADMIN_UI_FILES.iter().map(|(p, _)| *p).collect();
        assert!(names.contains(&"index.html"), "{names:?}");
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("js/app.") && n.ends_with(".js"))
        );
        assert!(!names.iter().any(|n| n.ends_with(".map")));
        let page = ADMIN_UI_FILES
            .iter()
            .find(|(p, _)| *p == "index.html")
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        assert!(page.contains("Socket.IO Admin UI"));
        for (name, _) in ADMIN_UI_FILES {
            if name.starts_with("js/") || name.starts_with("css/") {
                assert!(page.contains(name), "the page loads {name}");
            }
        }
        assert_eq!(
            content_type("js/app.0d7d7845.js"),
            "text/javascript; charset=utf-8"
        );
    }
}
