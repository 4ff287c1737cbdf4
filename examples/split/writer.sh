# Stands in for a writing agent. Each run of the mission writes under
# out/<mission ID>, so running the example again starts afresh.
out="out/$TECHLEAD_MISSION"
mkdir -p "$out"
case "$TECHLEAD_TASK" in
  DOCS)
    if [ -f "$out/install.md" ] && [ -f "$out/usage.md" ]; then
      cat "$out/install.md" "$out/usage.md" > "$out/guide.md"
      echo "::artifact $out/guide.md"
      echo "::summary joined the two chapters into the guide"
    else
      echo "::progress 10 sizing the guide"
      echo "too big for one go: two chapters of their own"
      echo "::split Write the install chapter"
      echo "::split Write the usage chapter"
    fi ;;
  DOCS.1)
    printf '# Install\n\ncargo install techlead\n\n' > "$out/install.md"
    echo "::summary the install chapter is in $out/install.md" ;;
  DOCS.2)
    test -f "$out/install.md" || { echo "::blocked the install chapter is missing"; exit 1; }
    printf '# Usage\n\ntechlead run mission.yaml\n' > "$out/usage.md"
    echo "::summary the usage chapter is in $out/usage.md" ;;
  PUBLISH)
    test -f "$out/guide.md" || exit 1
    echo "::summary published the guide: $(wc -l < "$out/guide.md") lines" ;;
esac
