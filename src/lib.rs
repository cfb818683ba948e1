//! ngx_http_fastdfs_module
