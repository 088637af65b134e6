//! Credentials in URLs (`https://user:secret@host/…`) masked wherever a URL is shown: locations, metrics
//! labels, the audit log, log lines and error texts.

/// `scheme://user:pass@host/…` → `scheme://***@host/…`; other text unchanged.
pub fn mask_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{tail}"),
        None => url.to_string(),
    }
}

/// Masks the userinfo of every URL inside a free text (error messages, git's output).
pub fn mask_text(text: &str) -> String {
    if !text.contains('@') {
        return text.to_string();
    }
    text.split_inclusive(|c: char| c.is_whitespace() || c == '\'' || c == '"')
        .map(|word| {
            if word.contains("://") {
                match word.find("://") {
                    Some(i) => {
                        let start = word[..i]
                            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+.-".contains(c)))
                            .map_or(0, |j| j + 1);
                        format!("{}{}", &word[..start], mask_userinfo(&word[start..]))
                    }
                    None => word.to_string(),
                }
            } else {
                word.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_masked() {
        assert_eq!(
            mask_userinfo("https://bob:s3cret@example.com/a@b.yaml"),
            "https://***@example.com/a@b.yaml"
        );
        assert_eq!(
            mask_userinfo("https://example.com/a"),
            "https://example.com/a"
        );
        assert_eq!(mask_userinfo("/tmp/a@b"), "/tmp/a@b");
        assert_eq!(
            mask_text("git push: 'https://x:tok@h/r.git' failed, url:http://u:p@h2/x"),
            "git push: 'https://***@h/r.git' failed, url:http://***@h2/x"
        );
    }
}
