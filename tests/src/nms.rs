//! Helpers for tests of the NMS binding (OMA-TS-REST_NetAPI_NMS): what a
//! client reads of the JSON representations.

use serde_json::Value;

/// The values of attribute `name` of an object or folder (TS 5.2.2
/// `attributes.attribute[]`, each a name and its values).
pub fn attribute(item: &Value, name: &str) -> Vec<String> {
    item["attributes"]["attribute"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["name"].as_str() == Some(name))
        .flat_map(|a| a["value"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}
