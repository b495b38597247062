// The Train tab feed's .change handler (a browser-only event, train.py): the answer that
// train_feed.js set as the hidden gr.HTML's value -> the status, the loss, accuracy and race plots,
// and the 16 guesses, as the values Gradio itself sends them.
(text) => {
  const answer = JSON.parse(text);
  return [answer.status, answer.loss, answer.accuracy, answer.race, answer.grid];
}
