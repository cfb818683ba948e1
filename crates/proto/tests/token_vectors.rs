//! `shared/testdata/fastdfs-tokens.json`.

mod common;

use fdfs_proto::token::{check_token, gen_token, TokenPolicy};

#[test]
fn every_vector_matches() {
    let v = common::load("fastdfs-tokens.json");
    let list = v["vectors"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    for t in list {
        let name = t["hashed_name"].as_str().unwrap().as_bytes();
        let key = t["secret_key"].as_str().unwrap();
        let ts = t["ts"].as_i64().unwrap();
        let token = t["token"].as_str().unwrap().as_bytes();
        assert_eq!(&gen_token(name, key.as_bytes(), ts), token);
        let mut p = TokenPolicy::new(key, 900);
        p.allow_never_expiring = ts == 0;
        let ts_s = ts.to_string();
        assert_eq!(
            check_token(&p, name, token, ts_s.as_bytes(), ts + 900),
            Ok(())
        );
        if ts != 0 {
            assert!(check_token(&p, name, token, ts_s.as_bytes(), ts + 901).is_err());
        }
    }
}
