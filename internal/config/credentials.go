package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The service runs as a dynamic user (DynamicUser=yes) that cannot read
// root's secret files, so secrets reach it as systemd credentials. One layout
// works both for the service and for root at a shell: the secret files live
// in the configuration directory's credentials/ folder (root only), the
// configuration names them relative to it (password_file:
// credentials/rtx-osaka), and the unit loads the whole folder
// (LoadCredential=vpnwatchd:/etc/vpnwatchd/credentials), which systemd hands
// to the service as $CREDENTIALS_DIRECTORY/vpnwatchd_rtx-osaka. A command run
// by root reads the files themselves.

// CredentialsFolder is the configuration directory's folder of secret files.
const CredentialsFolder = "credentials"

// CredentialsID is the ID the unit loads CredentialsFolder under: systemd
// names the credential of each file in it CredentialsID + "_" + file name.
const CredentialsID = "vpnwatchd"

// inCredentialsFolder reports whether p is a file directly in the
// configuration directory's credentials folder, and its name there.
func (c *Config) inCredentialsFolder(p string) (string, bool) {
	dir := filepath.Join(filepath.Dir(c.File), CredentialsFolder)
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") || strings.ContainsRune(rel, filepath.Separator) {
		return "", false
	}
	return rel, true
}

// fromCredentials returns where this process reads the file p: the systemd
// credential loaded from it when p is in the credentials folder and the
// process has that credential; otherwise p itself.
func (c *Config) fromCredentials(p string) string {
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	name, ok := c.inCredentialsFolder(p)
	if dir == "" || !ok {
		return p
	}
	cred := filepath.Join(dir, CredentialsID+"_"+name)
	if _, err := os.Lstat(cred); err != nil {
		return p // not loaded: reading p says why (permission denied: see credentialsHint)
	}
	return cred
}

// credentialsHint explains a secret file the process may not read under
// the service, or "".
func (c *Config) credentialsHint(p string) string {
	if os.Getenv("CREDENTIALS_DIRECTORY") == "" {
		return ""
	}
	if name, ok := c.inCredentialsFolder(p); ok {
		return fmt.Sprintf(" (the service has no credential %s_%s: systemd loads %s at start — restart vpnwatchd after adding a file — with LoadCredential=%s:%s in the unit)",
			CredentialsID, name, filepath.Dir(p), CredentialsID, filepath.Dir(p))
	}
	return ""
}

// fileUse is a file the configuration names, kept to check whether the
// service could read it (ServiceWarnings).
type fileUse struct {
	key    string // the key path, e.g. routers[0].password_file
	path   string // the file as resolved
	secret bool
}

// ServiceWarnings says, for each file the configuration names, whether the
// service as shipped (DynamicUser=yes, ProtectHome=yes, PrivateTmp=yes,
// LoadCredential= of the credentials folder) could read it: a command run by
// root reads files the service cannot. Meant for `config validate` run by
// root; without $CREDENTIALS_DIRECTORY.
func (c *Config) ServiceWarnings() []string {
	var out []string
	for _, f := range c.files {
		if _, ok := c.inCredentialsFolder(f.path); ok {
			continue // systemd loads it for the service
		}
		why := serviceCannotRead(f.path)
		if why == "" {
			continue
		}
		fix := fmt.Sprintf("make it readable by others (chmod o+r %s, o+x on its folders) or move it", f.path)
		if f.secret {
			dir := filepath.Join(filepath.Dir(c.File), CredentialsFolder)
			fix = fmt.Sprintf("move it to %s/ (root only; the unit loads that folder with LoadCredential=%s:%s) and name it %s/%s",
				dir, CredentialsID, dir, CredentialsFolder, filepath.Base(f.path))
		}
		out = append(out, fmt.Sprintf("%s: %s: the service cannot read it: %s; %s", f.key, f.path, why, fix))
	}
	return out
}

// serviceCannotRead says why a user with no relation to the file's owner or
// group, in the service's sandbox, could not read p; "" when it could.
func serviceCannotRead(p string) string {
	if why := hiddenByUnit(p); why != "" {
		return why
	}
	return othersCannotRead(p)
}

// hiddenByUnit says which of the unit's sandboxing options hides p from the
// service; "" when none does.
func hiddenByUnit(p string) string {
	for _, hidden := range []struct{ dir, why string }{
		{"/home/", "ProtectHome=yes hides /home"}, {"/root/", "ProtectHome=yes hides /root"}, {"/run/user/", "ProtectHome=yes hides /run/user"},
		{"/tmp/", "PrivateTmp=yes gives the service a /tmp of its own"}, {"/var/tmp/", "PrivateTmp=yes gives the service a /var/tmp of its own"},
	} {
		if strings.HasPrefix(p, hidden.dir) {
			return hidden.why
		}
	}
	return ""
}

// othersCannotRead says why a user that is neither p's owner nor in its
// group cannot read it (a folder on the way it may not enter, or the file's
// mode); "" when it can.
func othersCannotRead(p string) string {
	var folders []string
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		folders = append(folders, dir)
		if dir == "/" || dir == "." {
			break
		}
	}
	for i := len(folders) - 1; i >= 0; i-- { // the outermost first: the one the service stops at
		if st, err := os.Stat(folders[i]); err == nil && st.Mode().Perm()&0o001 == 0 {
			return fmt.Sprintf("its folder %s is mode %04o: others cannot enter it", folders[i], st.Mode().Perm())
		}
	}
	if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o004 == 0 {
		return fmt.Sprintf("it is mode %04o: others cannot read it", st.Mode().Perm())
	}
	return ""
}
