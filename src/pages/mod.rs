//! The gateway's HTML: the sign-in page and the account page. Self-contained (inline CSS, no
//! scripts, no external assets), plain forms that post to the `/auth` routes, and every value
//! from a user escaped.

mod account;
mod layout;
mod sign_in;
mod status;

pub use account::{account, AccountPage};
pub use layout::escape;
pub use sign_in::{login, LoginForm, LoginPage};
pub use status::{answer, error_page, mfa, MfaPage};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_values_are_escaped() {
        let html = login(&LoginPage {
            form: LoginForm::SignIn,
            rd: "/x\"><script>alert(1)</script>",
            error: Some("<b>bad</b>"),
            note: None,
            username: "a\"b",
            registration_open: true,
        });
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<b>bad"));
        assert!(html.contains("a&quot;b"));
    }

    #[test]
    fn the_register_link_appears_only_when_registration_is_open() {
        let page = |open| {
            login(&LoginPage {
                form: LoginForm::SignIn,
                rd: "/",
                error: None,
                note: None,
                username: "",
                registration_open: open,
            })
        };
        assert!(page(true).contains("register=1"));
        assert!(!page(false).contains("register=1"));
    }
}
