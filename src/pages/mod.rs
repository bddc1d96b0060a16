//! The gateway's HTML: the sign-in (and sign-up) page, the second-factor pages, the account page
//! and the error pages.
//! Self-contained (inline CSS, no scripts, no external assets, light and dark), plain forms
//! that post to the `/auth` routes, and every value from a user escaped.

mod account;
mod device;
mod layout;
mod mfa;
mod sign_in;
mod status;

pub use account::{account, AccountPage, Back, Security};
pub use layout::escape;
pub use mfa::{
    already_two_factor, code_form, enrol_qr, enrol_start, recovery_codes, CodeKind, CodePage,
    CodeStep, EnrolQr, EnrolStart, RecoveryCodes,
};
pub use sign_in::{login, LoginForm, LoginPage};
pub use status::{answer, error_page};

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::Registration;

    fn page(form: LoginForm, registration: Registration, invite: Option<&str>) -> String {
        login(&LoginPage {
            form,
            rd: "/docs",
            error: None,
            note: None,
            username: "",
            registration,
            invite,
        })
    }

    #[test]
    fn user_values_are_escaped() {
        let html = login(&LoginPage {
            form: LoginForm::Register,
            rd: "/x\"><script>alert(1)</script>",
            error: Some("<b>bad</b>"),
            note: None,
            username: "a\"b",
            registration: Registration::Open,
            invite: Some("\"><script>"),
        });
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<b>bad"));
        assert!(html.contains("a&quot;b"));
        assert!(html.contains("name=\"invite\" value=\"&quot;&gt;&lt;script&gt;\""));
    }

    #[test]
    fn the_sign_up_link_appears_only_when_registration_is_open() {
        let open = page(LoginForm::SignIn, Registration::Open, None);
        assert!(
            open.contains("href=\"/auth/register?rd=%2Fdocs\""),
            "{open}"
        );
        for closed in [Registration::Closed, Registration::Invite] {
            let html = page(LoginForm::SignIn, closed, None);
            assert!(!html.contains("/auth/register"), "{closed:?}: {html}");
        }
    }

    #[test]
    fn in_invite_mode_the_sign_in_page_points_to_the_invite_link_and_closed_says_nothing() {
        assert!(page(LoginForm::SignIn, Registration::Invite, None).contains("by invitation"));
        let closed = page(LoginForm::SignIn, Registration::Closed, None);
        assert!(!closed.contains("by invitation") && !closed.contains("No account"));
    }

    #[test]
    fn the_registration_form_carries_its_invite_and_only_it_does() {
        let token = "a".repeat(43);
        let html = page(LoginForm::Register, Registration::Closed, Some(&token));
        assert!(html.contains("action=\"/auth/register\""), "{html}");
        assert!(
            html.contains(&format!("name=\"invite\" value=\"{token}\"")),
            "{html}"
        );
        let html = page(LoginForm::Register, Registration::Open, None);
        assert!(!html.contains("name=\"invite\""), "{html}");
        let html = page(LoginForm::SignIn, Registration::Open, Some(&token));
        assert!(
            !html.contains(&token),
            "the sign-in form never carries it: {html}"
        );
    }
}
