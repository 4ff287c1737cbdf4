# Stands in for an agent: it notes in `timeline` (beside the mission
# files) when it starts and finishes its task. `dev` does one task at a
# time across both missions: its lock directory says so (mkdir is atomic),
# and a second task of it at once fails the example. REPORT checks that
# the billing API it reports on is done (it fails otherwise: it must not
# run early).
if [ "$TECHLEAD_AGENT" = dev ] && ! mkdir dev.lock 2>/dev/null; then
  echo "$TECHLEAD_TASK OVERLAP: another dev task is running" >> timeline
  exit 1
fi
echo "$TECHLEAD_TASK start" >> timeline
if [ "$TECHLEAD_TASK" = REPORT ] && ! grep -qx "API done" timeline; then
  echo "::blocked the billing API is not done yet"
  exit 1
fi
sleep "${WORK_SECONDS:-0.3}"
echo "$TECHLEAD_TASK done" >> timeline
if [ "$TECHLEAD_AGENT" = dev ]; then rmdir dev.lock; fi
echo "::summary $TECHLEAD_TASK done"
