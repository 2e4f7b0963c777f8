//! The WebDAV request-body reader (PROPFIND, PROPPATCH, LOCK bodies):
//! namespace-resolved parsing into a tree, bounded in depth, then the
//! walks the method handlers make over it. Must never panic or hang.

#![no_main]

use libfuzzer_sys::fuzz_target;
use webdav_server::xml;

/// The defaults of `[webdav] max_xml_depth` and `max_xml_attributes`.
const LIMITS: xml::Limits = xml::Limits {
    max_depth: 32,
    max_attributes: 64,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = xml::parse(data, LIMITS) {
        let _ = root.is_dav("propfind");
        if let Some(prop) = root.dav_child("prop") {
            for e in prop.elements() {
                let _ = (&e.name, e.text());
            }
        }
        let _ = root.text();
    }
});
