# Stands in for an agent: it notes in `timeline` (beside the mission
# files) when it starts and finishes its task, and REPORT checks that the
# billing API it reports on is done (it fails otherwise: it must not run
# early).
echo "$TECHLEAD_TASK start" >> timeline
if [ "$TECHLEAD_TASK" = REPORT ] && ! grep -qx "API done" timeline; then
  echo "::blocked the billing API is not done yet"
  exit 1
fi
sleep "${WORK_SECONDS:-0.3}"
echo "$TECHLEAD_TASK done" >> timeline
echo "::summary $TECHLEAD_TASK done"
