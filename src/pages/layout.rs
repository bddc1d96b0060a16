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

/// The one style sheet, inline because the CSP allows nothing else (`gateway/respond.rs`).
///
/// Contrast (WCAG 2.x relative luminance; light / dark), all at least 3:1 where WCAG 1.4.11
/// asks for it and 4.5:1 for text:
/// - focus ring `--ring` against what surrounds it (the 2 px offset leaves the card, page or
///   session colour on both sides): #1a56db on #fff 6.18, on #f4f5f7 5.67, on #f8f9fb 5.87 /
///   #8ab4f8 on #1b1e24 7.92, on #111317 8.82, on #22262d 7.20 (it was #7aa7ff on #fff, 2.39).
/// - input borders `--field` on the card: #6b7280 on #fff 4.83, on #f8f9fb 4.59 / #8b929c on
///   #1b1e24 5.32, on #22262d 4.84 (they were #9aa0a6 on #fff, 2.64).
/// - button faces on the card: #1a56db 6.18, #b42318 6.57 / #8ab4f8 7.92, #f28b82 6.99; their
///   text: #fff on #1a56db 6.18, on #b42318 6.57 / #10161f on #8ab4f8 8.62, on #f28b82 7.60.
/// - text on the card and on a session: #1c1e21 16.71 and 15.86, muted #5f6368 6.05 and 5.74,
///   links #1a56db 6.18 and 5.87 / #e6e8eb 13.60 and 12.37, muted #a8afb9 7.55 and 6.87, links
///   #8ab4f8 7.92 and 7.20; messages: #7a1a12 on #fdecea 9.26, #14351f on #e8f3ec 11.84 /
///   #fcd8d4 on #3b1715 12.06, #d5f5e1 on #14301f 12.21.
const STYLE: &str = "\
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--sub:#f8f9fb;--text:#1c1e21;--muted:#5f6368;\
--line:#d8dbe0;--field:#6b7280;--accent:#1a56db;--on-accent:#fff;--ring:#1a56db;--danger:#b42318;\
--on-danger:#fff;--err-bg:#fdecea;--err-line:#b42318;--err-text:#7a1a12;--ok-bg:#e8f3ec;\
--ok-line:#2e7d4f;--ok-text:#14351f}\
@media (prefers-color-scheme:dark){:root{--bg:#111317;--card:#1b1e24;--sub:#22262d;--text:#e6e8eb;\
--muted:#a8afb9;--line:#3a3f47;--field:#8b929c;--accent:#8ab4f8;--on-accent:#10161f;--ring:#8ab4f8;\
--danger:#f28b82;--on-danger:#10161f;--err-bg:#3b1715;--err-line:#f28b82;--err-text:#fcd8d4;\
--ok-bg:#14301f;--ok-line:#6ccf95;--ok-text:#d5f5e1}}\
*{box-sizing:border-box}[hidden]{display:none!important}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);\
color:var(--text);overflow-wrap:anywhere}\
main{max-width:34rem;margin:3rem auto;padding:0 1rem}main.wide{max-width:46rem}\
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1.5rem;margin-bottom:1rem}\
h1{font-size:1.4rem;margin:0 0 1rem}h2{font-size:1.15rem;margin:0 0 .75rem}h3{font-size:1rem;margin:1.25rem 0 .25rem}\
p{margin:.5rem 0}a{color:var(--accent)}\
label{display:block;font-weight:600;margin:.9rem 0 .25rem}\
input[type=text],input[type=password]{display:block;width:100%;padding:.6rem;border:1px solid var(--field);\
border-radius:6px;font:inherit;color:var(--text);background:var(--card)}\
.hint{color:var(--muted);font-size:.9rem;margin:0 0 .35rem}\
:focus-visible{outline:3px solid var(--ring);outline-offset:2px}\
input:focus{outline:3px solid var(--ring);outline-offset:2px}\
[tabindex=\"-1\"]:focus{outline:none}\
button{margin-top:1rem;padding:.6rem 1rem;border:1px solid var(--accent);border-radius:6px;\
background:var(--accent);color:var(--on-accent);font:inherit;cursor:pointer}\
button.secondary{background:transparent;color:var(--accent)}\
button.danger{background:var(--danger);border-color:var(--danger);color:var(--on-danger)}\
.error,.note{padding:.6rem .8rem;border-radius:6px;margin:0 0 1rem}\
.error{background:var(--err-bg);border:1px solid var(--err-line);color:var(--err-text)}\
.note{background:var(--ok-bg);border:1px solid var(--ok-line);color:var(--ok-text)}\
.row{display:flex;gap:.5rem 1rem;flex-wrap:wrap;align-items:center}.row button{margin-top:0}\
.row form{margin:0}.actions{margin-top:1rem}\
.muted{color:var(--muted);font-size:.9rem}\
a.button{display:inline-block;padding:.6rem 1rem;border:1px solid var(--accent);border-radius:6px;\
background:var(--accent);color:var(--on-accent);text-decoration:none}\
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.95em}\
.secret{letter-spacing:.05em;word-spacing:.3em}\
.qr svg{display:block;width:220px;max-width:100%;height:auto;margin:.75rem 0}\
.codes{display:grid;grid-template-columns:repeat(auto-fill,minmax(10rem,1fr));gap:.35rem 1.5rem;\
margin:1rem 0;padding-left:2rem}.codes code{font-size:1.05rem}\
.sessions{list-style:none;margin:0;padding:0}\
.session{background:var(--sub);border:1px solid var(--line);border-radius:8px;padding:.9rem 1rem;margin:0 0 .75rem;\
display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-start;justify-content:space-between}\
.session .what{flex:1 1 16rem;min-width:0}\
.session form{flex:0 0 auto;margin:0}.session button{margin-top:0}\
.device{font-weight:600}\
.badge{display:inline-block;margin-left:.4rem;padding:0 .5rem;border-radius:999px;font-size:.8rem;\
font-weight:600;background:var(--accent);color:var(--on-accent)}\
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.15rem .75rem;margin:.5rem 0 0;\
font-size:.9rem}dt{color:var(--muted)}dd{margin:0}\
time{text-decoration:underline dotted;text-underline-offset:3px}\
@media (max-width:30rem){main{margin:1rem auto;padding:0 .75rem}.card{padding:1.1rem}\
.session form,.session button{width:100%}}";

pub(super) fn layout(title: &str, body: &str) -> String {
    document(title, "", body)
}

/// A page with room for more than a form: the account page.
pub(super) fn layout_wide(title: &str, body: &str) -> String {
    document(title, " class=\"wide\"", body)
}

fn document(title: &str, main_attrs: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta name=\"color-scheme\" content=\"light dark\">\
<title>{title}</title><style>{STYLE}</style></head><body><main{main_attrs}>{body}</main></body></html>",
        title = escape(title),
    )
}

/// A message at the top of a form or page. An error takes the focus when the page loads, so a
/// failed submit puts the reader on what went wrong (the `autofocus` attribute: no script, so
/// the CSP stays as strict as it is).
pub(super) fn error_box(message: &str) -> String {
    format!(
        "<p class=\"error\" id=\"form-error\" role=\"alert\" tabindex=\"-1\" autofocus>{}</p>",
        escape(message)
    )
}

/// What just happened, after a form post sent the browser back here. `focus`: the note takes
/// the focus, when the page has no field that should.
pub(super) fn note_box(message: &str, focus: bool) -> String {
    let focus = if focus {
        " tabindex=\"-1\" autofocus"
    } else {
        ""
    };
    format!(
        "<p class=\"note\" role=\"status\"{focus}>{}</p>",
        escape(message)
    )
}

/// The password rules, shown next to every field that sets a password; `auth/input.rs`
/// checks them and says the same when they are broken.
pub(super) const PASSWORD_RULES: &str = "At least 8 and at most 72 characters (accented \
letters, other alphabets and emoji count as 2 to 4 each).";
