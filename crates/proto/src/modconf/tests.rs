use super::*;

/// A mod_fastdfs.conf in the shape of the one fastdfs-nginx-module ships (our own text).
const SAMPLE: &str = "\
# timeouts are not used by the nginx module
connect_timeout=2
network_timeout = 30
base_path=/tmp
load_fdfs_parameters_from_tracker=true
storage_sync_file_max_delay = 86400
use_storage_id = false
storage_ids_filename = storage_ids.conf
tracker_server=tracker:22122
storage_server_port=23000
group_name=group1
url_have_group_name = true
store_path_count=2
store_path0=/data/fastdfs
store_path1=/data2/fastdfs
log_level=info
log_filename=
response_mode=redirect
if_alias_prefix=
#include http.conf
flv_support = true
flv_extension = flv
group_count = 0
#[group1]
#group_name=group1
";

const HTTP_CONF: &str = "\
http.default_content_type = application/octet-stream
http.mime_types_filename=mime.types
http.anti_steal.check_token=true
http.anti_steal.token_ttl=900
http.anti_steal.secret_key=FastDFS1234567890
http.anti_steal.token_check_fail=/etc/fdfs/anti-steal.jpg
";

fn includes(
    files: &'static [(&'static str, &'static str)],
) -> impl FnMut(&str, &str) -> Result<(String, String), String> {
    move |_from: &str, name: &str| {
        files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, t)| (format!("/etc/fdfs/{n}"), t.to_string()))
            .ok_or_else(|| format!("cannot open {name}"))
    }
}

fn load(text: &str, files: &'static [(&'static str, &'static str)]) -> Result<ModConf, ConfError> {
    let entries = parse_ini("/etc/fdfs/mod_fastdfs.conf", text, &mut includes(files))?;
    mod_fastdfs_conf("/etc/fdfs/mod_fastdfs.conf", &entries)
}

#[test]
fn sample_file_with_http_conf() {
    let c = load(SAMPLE, &[("http.conf", HTTP_CONF)]).unwrap();
    assert_eq!(
        c.groups,
        vec![GroupPaths {
            name: "group1".into(),
            store_paths: vec!["/data/fastdfs".into(), "/data2/fastdfs".into()],
        }]
    );
    assert!(c.url_have_group_name);
    assert!(c.redirect_mode);
    assert_eq!(c.sync_max_delay, 86_400);
    assert!(c.flv);
    assert_eq!(c.flv_extension, "flv");
    assert_eq!(
        c.token,
        Some(TokenSettings {
            secret_key: "FastDFS1234567890".into(),
            ttl: 900,
            fail_file: Some("/etc/fdfs/anti-steal.jpg".into()),
        })
    );
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
}

#[test]
fn defaults_match_the_c_module() {
    let c = load("group_name=g1\nstore_path0=/d\n", &[]).unwrap();
    assert!(!c.url_have_group_name);
    assert!(!c.redirect_mode);
    assert_eq!(c.sync_max_delay, 86_400);
    assert!(!c.flv);
    assert_eq!(c.token, None);
}

#[test]
fn base_path_stands_in_for_store_path0() {
    let c = load("group_name=g1\nbase_path=/var/fdfs\n", &[]).unwrap();
    assert_eq!(c.groups[0].store_paths, vec!["/var/fdfs".to_string()]);
}

#[test]
fn multi_group_sections() {
    let text = "url_have_group_name=true\ngroup_count=2\n[group1]\ngroup_name=group1\nstore_path_count=1\nstore_path0=/a\n[group2]\ngroup_name=group2\nstore_path_count=2\nstore_path0=/b\nstore_path1=/c\n";
    let c = load(text, &[]).unwrap();
    assert_eq!(c.groups.len(), 2);
    assert_eq!(
        c.groups[1].store_paths,
        vec!["/b".to_string(), "/c".to_string()]
    );
}

#[test]
fn errors_name_file_line_and_key() {
    let e = load("group_name=g1\nstore_path0=/d\nresponse_mode=Proxy\n", &[]).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (3, "response_mode"));
    assert_eq!(e.file, "/etc/fdfs/mod_fastdfs.conf");
    assert!(e
        .to_string()
        .starts_with("/etc/fdfs/mod_fastdfs.conf:3: response_mode:"));

    let e = load("group_name=g1\nstore_path0=/d\n#include http.conf\n", &[("http.conf", "http.anti_steal.check_token=yes\nhttp.anti_steal.token_ttl=0\nhttp.anti_steal.secret_key=k\n")]).unwrap_err();
    assert_eq!(
        (e.file.as_str(), e.line, e.key.as_str()),
        ("/etc/fdfs/http.conf", 2, "http.anti_steal.token_ttl")
    );

    let e = load("group_name=g1\nstore_path_count=2\nstore_path0=/d\n", &[]).unwrap_err();
    assert_eq!(e.key, "store_path1");

    let e = load("group_name=g1\nstore_path0=relative\n", &[]).unwrap_err();
    assert_eq!(e.key, "store_path0");

    let e = load(
        "group_count=1\n[group1]\ngroup_name=g1\nstore_path0=/a\n",
        &[],
    )
    .unwrap_err();
    assert!(e.message.contains("url_have_group_name"), "{e}");

    let e = load(
        "group_name=g1\nstore_path0=/a\nthis line has no equals sign\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.line, 3);

    let e = load(
        "group_name=g1\nstore_path0=/a\n#include missing.conf\n",
        &[],
    )
    .unwrap_err();
    assert_eq!((e.key.as_str(), e.line), ("#include", 3));
}

#[test]
fn include_loops_are_bounded() {
    let mut inc = |_: &str, _: &str| {
        Ok((
            "/etc/fdfs/self.conf".to_string(),
            "#include self.conf\n".to_string(),
        ))
    };
    let e = parse_ini("/etc/fdfs/self.conf", "#include self.conf\n", &mut inc).unwrap_err();
    assert_eq!(e.key, "#include");
}

#[test]
fn booleans_follow_libfastcommon() {
    for t in ["true", "TRUE", "yes", "on", "1"] {
        assert!(parse_bool(t), "{t}");
    }
    for f in ["false", "no", "off", "0", "", "2"] {
        assert!(!parse_bool(f), "{f}");
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let mut inc = |_: &str, _: &str| Err::<(String, String), String>("no includes".into());
        if let Ok(entries) = parse_ini("f", &text, &mut inc) {
            let _ = mod_fastdfs_conf("f", &entries);
        }
    }
}
