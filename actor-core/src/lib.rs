//! Work-stealing actor runtime with tagged mailboxes, links, monitors and supervisors.
