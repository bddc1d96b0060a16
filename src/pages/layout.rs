//! What every page shares: the escaping every user value goes through, the inline style, and
//! the document around a page's body.

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;\
background:#f4f5f7;color:#1c1e21}main{max-width:34rem;margin:3rem auto;padding:0 1rem}\
.card{background:#fff;border:1px solid #d8dbe0;border-radius:10px;padding:1.5rem}\
h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;font-weight:600;margin:.8rem 0 .25rem}\
input[type=text],input[type=password]{width:100%;padding:.6rem;border:1px solid #9aa0a6;border-radius:6px;font:inherit}\
input:focus,button:focus{outline:3px solid #7aa7ff;outline-offset:1px}\
button{margin-top:1rem;padding:.6rem 1rem;border:0;border-radius:6px;background:#1a56db;color:#fff;font:inherit;cursor:pointer}\
button.secondary{background:#fff;color:#1a56db;border:1px solid #1a56db}button.danger{background:#b42318}\
.error{background:#fdecea;border:1px solid #b42318;color:#7a1a12;padding:.6rem;border-radius:6px}\
.note{background:#e8f3ec;border:1px solid #2e7d4f;padding:.6rem;border-radius:6px}\
table{width:100%;border-collapse:collapse;margin-top:1rem;font-size:.9rem}\
th,td{text-align:left;padding:.4rem;border-bottom:1px solid #e3e5e8;vertical-align:top}\
.row{display:flex;gap:.5rem;flex-wrap:wrap}.muted{color:#5f6368;font-size:.9rem}\
@media (max-width:30rem){main{margin:1rem auto}td,th{display:block}}";

pub(super) fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        title = escape(title),
    )
}
