// Actions on selected rows: the confirmation names how many rows ("Invite the 12 selected clients?").
// Replaces Flask-Admin's modelActions.execute with the same steps plus the {count} in the message.
(function () {
  var confirmations = JSON.parse(document.getElementById('actions-confirmation-data').textContent);
  var noneSelected = JSON.parse(document.getElementById('message-data').textContent);
  window.modelActions.execute = function (name) {
    var selected = $('input.action-checkbox:checked');
    if (selected.length === 0) {
      alert(noneSelected);
      return false;
    }
    var message = confirmations[name];
    if (message && !confirm(message.replace('{count}', selected.length))) {
      return false;
    }
    var form = $('#action_form');
    $('#action', form).val(name);
    $('input.action-checkbox', form).remove();
    selected.each(function () { form.append($(this).clone()); });
    form.submit();
    return false;
  };
})();
