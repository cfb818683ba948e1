//! Captured `fields` (fastdfs-packets.json) next to the ones our typed messages produce.

use super::hex;
use fdfs_proto::storage::Metadata;
use serde_json::{json, Value};

/// Decoded fields in the JSON naming, in wire order.
#[derive(Default)]
pub struct Fields(Vec<(String, Value)>);

impl Fields {
    pub fn s(&mut self, n: &str, v: &str) -> &mut Self {
        self.0.push((n.into(), json!(v)));
        self
    }
    pub fn n(&mut self, n: &str, v: impl Into<i128>) -> &mut Self {
        let v: i128 = v.into();
        let j = if v < 0 {
            json!(v as i64)
        } else {
            json!(v as u64)
        };
        self.0.push((n.into(), j));
        self
    }
    pub fn b(&mut self, n: &str, v: &[u8]) -> &mut Self {
        self.0.push((n.into(), json!(hex(v))));
        self
    }
    pub fn meta(&mut self, n: &str, m: &Metadata) -> &mut Self {
        let recs: Vec<Value> =
            m.0.iter()
                .map(|i| {
                    json!([
                        String::from_utf8(i.name.clone()).unwrap(),
                        String::from_utf8(i.value.clone()).unwrap()
                    ])
                })
                .collect();
        self.0.push((n.into(), Value::Array(recs)));
        self
    }
}

/// Compares our fields with the capture's, in both directions.
pub fn compare(id: &str, ours: &Fields, theirs: &Value) {
    let theirs = theirs.as_array().unwrap();
    assert_eq!(
        ours.0.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        theirs
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        "{id}: field names"
    );
    for ((name, v), f) in ours.0.iter().zip(theirs) {
        let want = match f["type"].as_str().unwrap() {
            "bytes" if f.get("records").is_some() => f["records"].clone(),
            "bytes" => f["hex"].clone(),
            _ => f["value"].clone(),
        };
        assert_eq!(v, &want, "{id}: field {name}");
    }
}
